"""S2 benchmark: the full sweep (all models, past lengths, both scenarios) at one site.

    .venv/bin/python benchmarks/bench_subdaily.py [configs/subdaily_wkg.yaml] [--out runs/subdaily_wkg_bench]

The run folder defaults to ``<out_dir>_bench`` under the repository (runs/ is gitignored); the
JSON records it and the config repo-relative.

Writes benchmarks/results/subdaily.json: site, extrapolation / interpolation (model → r, nse,
mse at the headline past length chosen on validation), best_q10_r_extrapolation,
mi_peak_lag_hours, sweep_seconds, plus the machine's CPU count and thread setting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from soilco2.config import load_config
from soilco2.subdaily.config import SubdailyConfig
from soilco2.subdaily.run import run

ROOT = Path(__file__).resolve().parents[1]


def _repo_relative(path: Path) -> str:
    """``runs/...`` for paths inside the checkout (the JSON is committed); absolute otherwise."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?", default=str(ROOT / "configs" / "subdaily_wkg.yaml"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--result", default=str(ROOT / "benchmarks" / "results" / "subdaily.json"))
    args = ap.parse_args()
    cfg = load_config(args.config, SubdailyConfig)
    out = Path(args.out or f"{cfg.out_dir}_bench")
    if not out.is_absolute():
        out = ROOT / out  # runs/ (gitignored) of this checkout, whatever the working directory
    t0 = time.perf_counter()
    s = run(cfg, out)
    keep = (
        "site",
        "dataset",
        "inputs",
        "target_transform",
        "headline_past_hours",
        "holdout",
        "extrapolation",
        "interpolation",
        "best_q10_r_extrapolation",
        "best_q10_r_interpolation",
        "mi_peak_lag_hours",
        "mi_lag_convention",
        "sweep_seconds",
        "total_seconds",
        "rain_pulses",
    )
    result = {k: s.get(k) for k in keep}
    result.update(
        config=_repo_relative(Path(args.config).resolve()),
        run_folder=_repo_relative(out.resolve()),
        wall_seconds=time.perf_counter() - t0,
        cpu_count=os.cpu_count(),
        torch_threads=cfg.train.threads,
        python=platform.python_version(),
        note="2-core machine shared with other engineers' jobs while measured",
    )
    Path(args.result).parent.mkdir(parents=True, exist_ok=True)
    Path(args.result).write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
