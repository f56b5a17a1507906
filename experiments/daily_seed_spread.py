"""Seed spread of the S1 headline: the default config's 4-member ensemble of seeds 0-3 (the run
behind benchmarks/results/daily.json) beside seeds 4-7 and all eight, on the real test days, over
all sites and by the in-situ drivers measured on the test days (diagnostics.insitu_drivers_bin).
Nothing here chooses a setting: it says how far the medians move with the seeds alone.

    .venv/bin/python experiments/daily_variants.py seeds8 --from-run runs/daily --members 0 1 2 3
    .venv/bin/python experiments/daily_variants.py seeds8 --members 4 5   # and, beside it: --members 6 7
    .venv/bin/python experiments/daily_seed_spread.py    # -> experiments/results/daily_seed_spread.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from daily_variants import _site_scores

ROOT = Path(__file__).resolve().parents[1]
SEED_SETS = {"seeds 0-3 (the benchmark run)": [0, 1, 2, 3], "seeds 4-7": [4, 5, 6, 7], "seeds 0-7": list(range(8))}


def _medians(s: dict[str, np.ndarray], keep: np.ndarray) -> dict:
    from soilco2.daily.outputs import performance_class
    from soilco2.metrics import bootstrap_ci

    good = np.array([performance_class(n, k) == "good" for n, k in zip(s["nse"], s["kge"])])
    keep = keep & (s["n"] >= 3)
    return {
        "sites": int(keep.sum()),
        **{f"median_test_{k}": float(np.nanmedian(s[k][keep])) for k in ("nse", "kge", "r")},
        "n_good": int(good[keep].sum()),
        "share_good": float(good[keep].mean()),
        "median_test_nse_ci95": list(bootstrap_ci(s["nse"][keep])),
        "median_test_kge_ci95": list(bootstrap_ci(s["kge"][keep])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/soilco2_daily_variants") / "seeds8")
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "daily", help="its sites.parquet gives the sensors")
    ap.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "daily_seed_spread.json")
    args = ap.parse_args()

    from soilco2.daily.report.diagnostics import insitu_drivers_bin

    obs, split = np.load(args.cache / "obs.npy"), np.load(args.cache / "split.npy")
    sites = pd.read_parquet(args.run / "sites.parquet")
    drivers = insitu_drivers_bin(sites)
    if drivers is None or len(sites) != obs.shape[0]:
        raise SystemExit(f"{args.run / 'sites.parquet'}: no insitu_* columns or not the cached sites; rerun the run")
    none = (drivers == "none (climatology only)").to_numpy()
    out = {"cache": str(args.cache), "run": str(args.run), "seed_sets": {}}
    for name, members in SEED_SETS.items():
        pred = np.mean([np.load(args.cache / f"member_{k}.npy") for k in members], 0)
        s = _site_scores(pred, obs, split, 2)
        out["seed_sets"][name] = {
            "members": members,
            "all sites": _medians(s, np.ones_like(none)),
            "sites with in-situ sensors on the test days": _medians(s, ~none),
            "sites without (climatology only)": _medians(s, none),
        }
    args.out.write_text(json.dumps(out, indent=1))
    for name, d in out["seed_sets"].items():
        for group, m in d.items():
            if group != "members":
                print(
                    f"{name:30s} {group:45s} {m['sites']:3d} sites  NSE {m['median_test_nse']:+.3f}  "
                    f"KGE {m['median_test_kge']:+.3f}  good {m['n_good']} ({m['share_good']:.0%})"
                )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
