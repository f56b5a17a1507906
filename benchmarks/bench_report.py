"""Time `soilco2 daily report` on a run folder and record the main diagnostics.

.venv/bin/python benchmarks/bench_report.py runs/daily   # -> benchmarks/results/report.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from soilco2.daily.report.build import build_report


def main(run: str) -> None:
    t0 = time.perf_counter()
    index = build_report(Path(run))
    seconds = time.perf_counter() - t0
    out = index.parent
    diag = json.loads((out / "diagnostics.json").read_text())
    per_site = pd.read_parquet(out / "tables" / "per_site.parquet")
    corr = pd.read_parquet(out / "tables" / "correlations.parquet")
    share = pd.read_parquet(out / "tables" / "share_good.parquet")
    key = corr[corr["attribute"].isin(["n_obs_days", "acf_1", "acf_182", "acf_365", "summer_minus_winter_umol_m2_s"])]
    result = {
        "run": str(run),
        "report_seconds": round(seconds, 1),
        "sites": int(len(per_site)),
        "class_counts": per_site["class"].value_counts().to_dict(),
        "correlations_key": key.round(4).to_dict(orient="records"),
        "share_good": share.round(4).to_dict(orient="records"),
        "srdb_agreement": diag["srdb_agreement"],
        "error_parts": pd.read_parquet(out / "tables" / "error_parts.parquet").round(4).to_dict(orient="records"),
        "pooled_parts": pd.read_parquet(out / "tables" / "pooled_parts.parquet").round(4).to_dict(orient="records"),
    }
    if "test_partial_mse_share" in per_site:  # runs whose predictions.nc has obs_n
        cols = [
            "site",
            "class",
            "test_nse",
            "test_kge",
            "test_partial_day_share",
            "test_partial_mse_share",
            "test_nse_full_days",
            "test_kge_full_days",
        ]
        heavy = per_site.loc[per_site["test_partial_mse_share"] > 0.5, cols]
        result["partial_days"] = {
            "median_test_nse_full_days": round(float(per_site["test_nse_full_days"].median()), 4),
            "median_test_kge_full_days": round(float(per_site["test_kge_full_days"].median()), 4),
            "median_test_partial_day_share": round(float(per_site["test_partial_day_share"].median()), 4),
            "sites_partial_mse_share_over_half": heavy.round(4).to_dict(orient="records"),
        }
    dest = Path(__file__).parent / "results" / "report.json"
    dest.write_text(json.dumps(result, indent=1, default=str))
    print(f"report: {seconds:.1f} s, {len(per_site)} sites -> {index}; summary in {dest}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/daily")
