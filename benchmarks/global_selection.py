"""S3 predictor selection: every subset of the candidate predictors (configs/global.yaml's
`selection`), for Rs and for Rh/Rs, ranked by grouped-CV RMSE on Dask; writes the chosen
subsets, the noise floor (subsets within one SE of the best), where the default seven rank,
and the seconds.

Usage: .venv/bin/python benchmarks/global_selection.py [--config configs/global.yaml]
       [--out benchmarks/results/global_selection.json] [--table runs/global_selection.parquet]
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
    ap.add_argument("--out", default=str(HERE / "results" / "global_selection.json"))
    ap.add_argument("--table", default=str(HERE.parent / "runs" / "global_selection.parquet"))
    args = ap.parse_args()

    from soilco2.config import load_config
    from soilco2.files import write_parquet
    from soilco2.global_.config import DEFAULT_COVARIATES, GlobalConfig
    from soilco2.global_.run import build_inputs
    from soilco2.global_.selection import chosen, select_covariates, selection_summary
    from soilco2.paths import data_root

    cfg = load_config(args.config, GlobalConfig).model_copy(update={"covariates": "auto"})
    _, tables, _ = build_inputs(cfg, data_root(cfg.data_root))
    t0 = time.perf_counter()
    table, picked = select_covariates(tables, cfg, progress=True)
    seconds = time.perf_counter() - t0
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    write_parquet(table, args.table, index=False)
    summary = selection_summary(table, cfg)
    default = ",".join(c for c in cfg.selection.candidates if c in DEFAULT_COVARIATES)
    for flux, t in table.groupby("flux"):
        row = t[t["covariates"] == default].iloc[0]
        summary[flux]["default_seven"] = {"rank": int(row["rank"]), "rmse": float(row["rmse"]), "r2": float(row["r2"])}
        summary[flux]["one_se_choice"] = chosen(t, "one_se")
        summary[flux]["top10"] = t.head(10)[["rank", "covariates", "rmse", "rmse_se", "r2"]].to_dict(orient="records")
    result = {
        "selected_covariates": picked,
        "selection": summary,
        "seconds": round(seconds, 1),
        "n_workers": cfg.n_workers,
        "n_records": {k: int(len(v)) for k, v in tables.items()},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "command": ".venv/bin/python benchmarks/global_selection.py",
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"selected_covariates": picked, "seconds": result["seconds"]}, indent=1))


if __name__ == "__main__":
    main()
