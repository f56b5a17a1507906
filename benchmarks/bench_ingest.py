"""Ingest benchmark: cold build of the COSORE daily table (empty cache) and the cached reload.

Usage: .venv/bin/python benchmarks/bench_ingest.py [--root DIR] [--out benchmarks/results/ingest.json]
Writes the counts (datasets seen / with data, records raw / kept, drops by reason, site-days)
and the timings. The cold build uses a fresh temporary cache directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="COSORE folder or data root (default: the data root)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "ingest.json"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="soilco2-bench-cache-") as cache:
        os.environ["SOILCO2_CACHE"] = cache  # read by soilco2.paths.cache_dir() on every call
        t0 = time.perf_counter()
        from soilco2.prep.cosore_records import CODE_VERSION, daily_table
        from soilco2.sources.cosore import list_datasets

        import_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        daily, acc = daily_table(args.root, progress=False)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        daily2, acc2 = daily_table(args.root, progress=False)
        cached_s = time.perf_counter() - t0
        assert daily2.equals(daily) and acc2.equals(acc)
        # the same reload in a fresh interpreter, imports included (what a CLI call pays)
        code = (
            "import time; t=time.perf_counter(); from soilco2.prep.cosore_records import daily_table; "
            f"daily_table({args.root!r}, progress=False); print(time.perf_counter()-t)"
        )
        fresh_s = float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
            ).stdout.strip()
        )
        meta = list_datasets(args.root)

    dropped = {c: int(acc[c].sum()) for c in acc.columns if c.startswith("dropped_")}
    closes = bool((acc["raw"] == acc["kept"] + acc[list(dropped)].sum(axis=1)).all())
    result = {
        "datasets_seen": len(meta),
        "datasets_with_data": int(meta["has_data"].sum()),
        "datasets_skipped_error": int((acc["status"] == "error").sum()),
        "datasets_with_kept_days": int(daily["dataset"].nunique()),
        "raw_records": int(acc["raw"].sum()),
        "kept_records": int(acc["kept"].sum()),
        **dropped,
        "driver_values_set_nan": int(acc["driver_values_nan"].sum()),
        "accounting_closes_every_dataset": closes,
        "site_days": len(daily),
        "cold_build_seconds": round(cold_s, 2),
        "cached_load_seconds": round(cached_s, 3),
        "cached_load_fresh_process_seconds": round(fresh_s, 2),
        "import_seconds": round(import_s, 2),
        "code_version": CODE_VERSION,
        "options": {"ports": "rs_control", "percentile_filter": True},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
