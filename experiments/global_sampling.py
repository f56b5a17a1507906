"""How S3 runs draw their training records: vegetation bins, equal chances, or climate strata,
with 200 runs of 100 trees each (the rest as configs/global.yaml); prints totals, held-out and
grouped-CV skill and the spread of the totals for each (docs/decisions.md, E18).

    .venv/bin/python experiments/global_sampling.py [--runs 200] [--out runs/global_sampling]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "global_sampling")
    args = ap.parse_args()

    from soilco2.config import load_config
    from soilco2.global_.config import GlobalConfig
    from soilco2.global_.run import run_global

    base = load_config(ROOT / "configs" / "global.yaml", GlobalConfig)
    for sampling in ("vegetation_bins", "equal", "climate_strata"):
        cfg = base.model_copy(update={"sampling": sampling, "n_bootstrap": args.runs, "explain_runs": 0,
                                      "crossing_runs": 0, "figures": False, "n_workers": 1,
                                      "out_dir": str(args.out / sampling)})  # fmt: skip
        s = json.loads((run_global(cfg, progress=True, replace=True) / "summary.json").read_text())
        pp = s.get("paper_protocol") or {}
        print(
            json.dumps(
                {
                    "sampling": sampling,
                    "totals_mean_pg": {f: round(v["mean"], 1) for f, v in s["totals_pg_c_yr"].items()},
                    "held_out_r2": {f: round(v["r2"], 3) for f, v in pp.items()},
                    "grouped_cv_r2": {r["flux"]: round(r["r2"], 3) for r in s["cv"]},
                    "total_sd_and_cell_sd_integral_pg": {
                        f: (round(v["sd"], 2), round(v["cell_sd_area_integral"], 1))
                        for f, v in s["total_statistics_pg_c_yr"].items()
                    },
                }
            )
        )


if __name__ == "__main__":
    main()
