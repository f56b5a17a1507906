"""S3 process-model benchmark: the models of configs/global_benchmark.yaml (the three bundled soil
models, read through the generic model-file path) against the S3 run that benchmarks/bench_global.py
wrote; per model the totals, SRDB and map scores (ILAMB bias / spatial / overall), the published
totals and ISIMIP2a sites, and the budget table.

Usage: .venv/bin/python benchmarks/global_benchmark.py [--run runs/bench_global]
       [--config configs/global_benchmark.yaml] [--out benchmarks/results/global_benchmark.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(HERE.parent / "runs" / "bench_global"))
    ap.add_argument("--config", default=str(HERE.parent / "configs" / "global_benchmark.yaml"))
    ap.add_argument("--out", default=str(HERE / "results" / "global_benchmark.json"))
    args = ap.parse_args()

    import pandas as pd

    from soilco2.config import load_config
    from soilco2.global_.benchmark.config import BenchmarkConfig
    from soilco2.global_.benchmark.run import run_benchmark

    cfg = load_config(args.config, BenchmarkConfig)
    t0 = time.perf_counter()
    folder = run_benchmark(args.run, cfg, progress=False, replace=True)
    seconds = time.perf_counter() - t0
    res = json.loads((folder / "scores.json").read_text())
    pub = pd.read_parquet(folder / "published.parquet")
    sites = pd.read_parquet(folder / "isimip_sites.parquet")
    run_summary = json.loads((Path(args.run) / "summary.json").read_text())
    result = res | {
        "run": {
            "folder": Path(args.run).name,
            "n_bootstrap": run_summary["n_bootstrap"],
            "totals_pg_c_yr": run_summary["totals_pg_c_yr"],
        },
        "published_rh": {
            src: {
                "models": int(len(g)),
                "median_pg_c_yr": float(g["rh_pg_c_yr"].median()),
                "within_our_interval": int(g["within_our_interval"].sum()),
            }
            for src, g in pub.groupby("source")
        },
        "isimip2a_sites": sites.to_dict(orient="records"),
        "seconds": round(seconds, 1),
        "command": ".venv/bin/python benchmarks/global_benchmark.py",
    }
    Path(args.out).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps(res["models"], indent=1))


if __name__ == "__main__":
    main()
