"""S3 benchmark: one full global run on configs/global.yaml (2000 runs on 2 Dask workers): totals
with their spread, grouped CV and the paper's protocol, seconds; then the same runs' engine timed
on 1 and on 2 workers (a shorter run count) for the Dask speed-up.

Usage: .venv/bin/python benchmarks/bench_global.py [--config configs/global.yaml]
       [--out benchmarks/results/global.json] [--run-dir runs/bench_global] [--speedup-runs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE.parent / "configs" / "global.yaml"))
    ap.add_argument("--out", default=str(HERE / "results" / "global.json"))
    ap.add_argument("--run-dir", default=str(HERE.parent / "runs" / "bench_global"))
    ap.add_argument("--speedup-runs", type=int, default=200, help="runs of the 1- vs 2-worker timing (0: skip)")
    args = ap.parse_args()

    from soilco2.config import load_config
    from soilco2.global_.config import GlobalConfig
    from soilco2.global_.run import run_global

    cfg = load_config(args.config, GlobalConfig)
    cfg.out_dir = args.run_dir
    t0 = time.perf_counter()
    run = run_global(cfg, config_file=args.config, progress=False, replace=True)
    wall_s = time.perf_counter() - t0
    summary = json.loads((run / "summary.json").read_text())
    acc = json.loads((run / "accounting.json").read_text())
    cv = {r["flux"]: r for r in summary["cv"]}
    pp = summary.get("paper_protocol") or {}
    speed = {}
    if args.speedup_runs:
        for workers in (1, 2):
            c = cfg.model_copy(
                update={
                    "n_bootstrap": args.speedup_runs,
                    "n_workers": workers,
                    "figures": False,
                    "out_dir": f"{args.run_dir}_speed{workers}",
                }
            )
            t = time.perf_counter()
            run_global(c, progress=False, replace=True)
            speed[workers] = json.loads((Path(c.out_dir) / "summary.json").read_text())["timings_s"]["runs_s"]
            speed[f"wall_{workers}"] = time.perf_counter() - t
    headline = {
        "runs": cfg.n_bootstrap,
        "ensemble_seconds": summary["timings_s"]["runs_s"],
        "dask_speedup_2_workers": round(speed[1] / speed[2], 3) if speed else None,
        "dask_runs_seconds_1_and_2_workers": [speed.get(1), speed.get(2)],
        "rs_r2_grouped": cv["rs"]["r2"],
        "rh_r2_grouped": cv["rh"]["r2"],
        "rs_r2_paper_protocol": pp.get("rs", {}).get("r2"),
        "rh_r2_paper_protocol": pp.get("rh", {}).get("r2"),
        "paper_protocol_shared_cell_share": pp.get("rs", {}).get("shared_cell_share"),
        "coverage_90_grouped": {f: cv[f]["coverage_90"] for f in ("rs", "rh")},
        "coverage_90_paper_protocol": {f: pp.get(f, {}).get("coverage_90") for f in ("rs", "rh")},
        **{f"{f}_total_pg": summary["total_statistics_pg_c_yr"][f] for f in ("rs", "rh", "ra")},
        "ra_negative_cell_share": summary["ra_negative_cell_share"],
        "ra_negative_in_any_run_cell_share": summary["ra_negative_in_any_run_cell_share"],
        "independent_rh_above_rs_cell_share": summary["independent_rh_above_rs_cell_share"],
        "selected_covariates": summary["selected_covariates"],
        "convergence_runs": summary["convergence_runs"],
        "sampling": cfg.sampling,
    }
    result = headline | {
        "config": str(Path(args.config).relative_to(HERE.parent)) if Path(args.config).is_absolute() else args.config,
        "settings": cfg.model_dump(mode="json"),
        "totals_pg_c_yr": summary["totals_pg_c_yr"],
        "totals_from_q50_pg_c_yr": summary["totals_from_q50_pg_c_yr"],
        "lu2021_pg_c_yr": summary["lu2021_pg_c_yr"],
        "cv": summary["cv"],
        "n_training_records": summary["n_training_records"],
        "n_training_locations": summary["n_training_locations"],
        "accounting": {k: acc[k] for k in ("rs", "rh", "grid")},
        "ra_negative_cell_share": summary["ra_negative_cell_share"],
        "extrapolated_land_area_share": summary["extrapolated_land_area_share"],
        "timings_s": summary["timings_s"],
        "wall_s": round(wall_s, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "n_jobs": cfg.n_jobs},
        "command": ".venv/bin/python benchmarks/bench_global.py",
        "device": "CPU only (2 shared cores); no GPU used",
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(headline, indent=1))


if __name__ == "__main__":
    main()
