"""S1 headline over several seed sets: the default config trained with seeds 0, 4, 8, 12, 16 (each
a 4-member ensemble of seeds s..s+3), the median and range of the median test NSE / KGE / r and
of the good sites, and a tolerance check a newcomer can run on another machine.

    .venv/bin/python benchmarks/daily_seeds.py                    # 5 seed sets, ~10 min each on 2 cores
    .venv/bin/python benchmarks/daily_seeds.py --check            # one seed set, compared with the figures

Writes benchmarks/results/daily_seeds.json. A run folder per seed set under runs/daily_seeds/.
Bit-identical numbers hold for one machine and one library set (constraints.txt); another CPU or
BLAS gives other rounding in training and so other members: expect a seed set's medians within
the range reported here, not equal to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED_SETS = (0, 4, 8, 12, 16)
KEYS = ("median_test_nse", "median_test_kge", "median_test_r", "n_good")


def headline(summary: dict) -> dict:
    test = summary["models"]["lstm"]["test"]
    return {
        "median_test_nse": test["median_nse"],
        "median_test_kge": test["median_kge"],
        "median_test_r": test["median_r"],
        "n_good": test["n_good"],
        "share_good": test["share_good"],
    }


def spread(rows: list[dict]) -> dict:
    out = {}
    for k in KEYS:
        v = np.array([r[k] for r in rows], float)
        out[k] = {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}
    return out


def within(result: dict, reference: dict) -> dict:
    """A seed set is consistent with the published figures when each median lies inside the
    published range widened by half its width (the seeds alone move the medians that much)."""
    checks = {}
    for k in KEYS:
        lo, hi = reference[k]["min"], reference[k]["max"]
        pad = 0.5 * (hi - lo)
        checks[k] = {"value": result[k], "allowed": [lo - pad, hi + pad], "ok": bool(lo - pad <= result[k] <= hi + pad)}
    return checks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "daily.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEED_SETS))
    ap.add_argument("--check", action="store_true", help="train seed set 0 only and compare with the JSON")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "daily_seeds.json")
    args = ap.parse_args()

    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.run import train_run

    base = load_config(args.config, DailyConfig)
    seeds = [0] if args.check else args.seeds
    rows = []
    for s in seeds:
        cfg = base.model_copy(update={"training": base.training.model_copy(update={"seed": s})})
        run = ROOT / "runs" / "daily_seeds" / f"seed{s}"
        t0 = time.perf_counter()
        train_run(cfg, run, show_progress=True, replace=True)
        summary = json.loads((run / "summary.json").read_text())
        rows.append(
            {
                "seed_set": list(range(s, s + cfg.training.ensemble)),
                **headline(summary),
                "train_seconds": summary.get("train_seconds"),
                "wall_seconds": time.perf_counter() - t0,
            }
        )
        print(json.dumps(rows[-1]))
    if args.check:
        published = json.loads(args.out.read_text())
        checks = within(rows[0], published["spread"])
        print(json.dumps(checks, indent=1))
        print(
            "consistent with the published seed spread"
            if all(c["ok"] for c in checks.values())
            else "OUTSIDE the published seed spread: compare your library versions with constraints.txt"
        )
        return
    result = {
        "config": str(args.config.resolve().relative_to(ROOT)),
        "seed_sets": rows,
        "spread": spread(rows),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "note": "median and range over the seed sets; each set is a 4-member ensemble; "
        "same machine + constraints.txt => identical numbers per seed set",
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["spread"], indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
