"""S1 spatial generalisation: the default config in leave-site-out mode, every fold in turn, so each
site is predicted once by an ensemble that never saw it (its level comes from the static
attributes). Writes benchmarks/results/daily_leave_site_out.json with the medians over all sites,
beside the same sites' temporal-split scores from a run of the default config.

    .venv/bin/python benchmarks/daily_leave_site_out.py                  # 5 folds, runs/daily_lso_fold*
    .venv/bin/python benchmarks/daily_leave_site_out.py --temporal runs/daily
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rel(path: Path) -> str:
    """``path`` relative to the repository when inside it (for the committed JSON)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def _medians(metrics, model: str) -> dict:
    """The test headline of one model (``soilco2.daily.outputs.summarise``: medians, the paper's good class)."""
    from soilco2.daily.outputs import summarise

    rows = metrics[(metrics["model"] == model) & (metrics["split"] == "test")]
    s = summarise(rows)["models"][model]["test"]
    return {
        "sites": int(rows["site"].nunique()),
        **{f"median_test_{k}": round(s[f"median_{k}"], 4) for k in ("nse", "kge", "r")},
        "share_good": round(s["share_good"], 4),
        "n_good": s["n_good"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "daily.yaml")
    ap.add_argument("--k", type=int, default=5, help="site folds")
    ap.add_argument(
        "--temporal",
        type=Path,
        default=ROOT / "runs" / "daily",
        help="a run of the same config on the temporal split, for comparison",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "daily_leave_site_out.json")
    args = ap.parse_args()

    import pandas as pd

    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.run import train_run

    base = load_config(args.config, DailyConfig)
    tests, folds = [], []
    for fold in range(args.k):
        cfg = base.model_copy(
            update={
                "name": f"{base.name}_lso_fold{fold}",
                "split": base.split.model_copy(update={"mode": "leave_site_out", "k_folds": args.k, "fold": fold}),
            }
        )
        t0 = time.perf_counter()
        run = train_run(cfg, show_progress=True, replace=True)
        m = pd.read_parquet(run / "metrics.parquet")
        test = m[m["split"] == "test"]
        tests.append(test)
        folds.append(
            {
                "fold": fold,
                "run": _rel(run),
                "test_sites": sorted(test["site"].unique().tolist()),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(f"fold {fold}: {test['site'].nunique()} test sites, {folds[-1]['seconds']} s", flush=True)
    lso = pd.concat(tests, ignore_index=True)
    result = {
        "config": _rel(args.config),
        "k_folds": args.k,
        "split_seed": base.split.seed,
        "leave_site_out": {model: _medians(lso, model) for model in ("lstm", "random_forest")},
        "folds": folds,
        "note": "each site predicted once by the fold that held it out; Q10 and day-of-year climatology "
        "need the site's own training days and are undefined here",
    }
    temporal = args.temporal / "metrics.parquet"
    if temporal.is_file():
        t = pd.read_parquet(temporal)
        t = t[t["site"].isin(lso["site"])]
        result["temporal_split_same_sites"] = {
            "run": _rel(args.temporal),
            **{model: _medians(t, model) for model in ("lstm", "random_forest")},
        }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("leave_site_out", "temporal_split_same_sites") if k in result}, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
