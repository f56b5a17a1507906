"""Time the S1 daily dataset build on the shared data and count sites / site-days.

    .venv/bin/python benchmarks/daily_dataset_build.py [--out benchmarks/results/daily_dataset.json]

The first build in a fresh cache reads every COSORE dataset (the daily table is then cached as
Parquet); later builds start from that cache. Set SOILCO2_CACHE to a new folder to time a cold build.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results/daily_dataset.json")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from soilco2.daily.dataset.build import DailyDataConfig, build_daily_dataset
    from soilco2.prep.cosore_records import daily_table

    t0 = time.perf_counter()
    daily_table(progress=False)
    t_table = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = build_daily_dataset(DailyDataConfig(), progress=False)
    t_build = time.perf_counter() - t0
    span = ds["in_span"].values.astype(bool)
    fills = json.loads(ds.attrs["fill_counts"])
    result = {
        "daily_table_seconds_first_call": round(t_table, 2),
        "build_seconds_with_cached_table": round(t_build, 2),
        "sites": int(ds.sizes["site"]),
        "skipped_sites": len(json.loads(ds.attrs["skipped_sites"])),
        "days_on_axis": int(ds.sizes["time"]),
        "site_days_in_span": int(span.sum()),
        "observed_site_days": int(np.isfinite(ds["flux_umol_m2_s"].values).sum()),
        "dynamic_features": len(ds.attrs["dynamic_features"]),
        "static_features": len(ds.attrs["static_features"]),
        "share_in_span_measured_or_interpolated": {
            k: round((v["observed"] + v["interpolated"]) / span.sum(), 3) for k, v in fills.items()
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
