"""S3 reproducibility on any Dask cluster: one small config run in this process, on 2 local
workers, on a real ``dask scheduler`` with two ``dask worker`` processes (twice), and once more
there with one worker SIGKILLed while the runs' tasks are going. Every map of ``maps.nc`` and every
total of ``totals.parquet`` is compared with the in-process run: the largest absolute difference
must be 0.

Usage: .venv/bin/python benchmarks/global_reproducibility.py
       [--out benchmarks/results/global_reproducibility.json] [--work DIR] [--runs 12]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DASK = str(Path(sys.executable).with_name("dask"))


def small_config(path: Path, runs: int) -> Path:
    """configs/global_tiny.yaml with enough runs (one a task) that a worker can die half-way."""
    cfg = yaml.safe_load((ROOT / "configs" / "global_tiny.yaml").read_text())
    cfg.update(n_bootstrap=runs, chunk_runs=1, quantile_every=3, n_trees=16, explain_runs=2, crossing_runs=2)
    path.write_text(yaml.safe_dump(cfg))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExternalCluster:
    """``dask scheduler`` and two single-threaded ``dask worker`` processes on this machine."""

    def __init__(self, workers: int = 2):
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        port = self.address.rsplit(":", 1)[1]
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", port,
                                        "--no-dashboard"], **quiet)]  # fmt: skip
        self._wait_for(lambda c: True)
        for _ in range(workers):
            self.procs.append(subprocess.Popen([DASK, "worker", self.address, "--nthreads", "1", "--nworkers", "1",
                                                "--no-dashboard"], **quiet))  # fmt: skip
        self._wait_for(lambda c: len(c.scheduler_info(n_workers=-1)["workers"]) >= workers)

    def _wait_for(self, ready, seconds: float = 60.0) -> None:
        from distributed import Client

        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            try:
                with Client(self.address, timeout="2s") as c:
                    if ready(c):
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Dask cluster at {self.address} did not come up in {seconds:g} s")

    def kill_a_busy_worker(self, runs: int, seconds: float = 300.0) -> str:
        """SIGKILL the process of a worker that is running a task, once about half of the ``runs``
        (one a task) are finished: finished tasks are released, so the scheduler forgets them."""
        from distributed import Client

        def open_run_tasks(dask_scheduler):
            return sum(1 for k in dask_scheduler.tasks if str(k).startswith("_run_chunk_task"))

        with Client(self.address, timeout="5s") as c:
            t0, started = time.monotonic(), False
            while time.monotonic() - t0 < seconds:
                left = c.run_on_scheduler(open_run_tasks)
                started = started or left >= runs  # every task submitted
                busy = [w for w, tasks in c.processing().items() if tasks]
                if started and busy and left <= runs - runs // 2:
                    pid = c.run(os.getpid, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    return busy[0]
                time.sleep(0.1)
        raise RuntimeError("no worker ran a task to kill")

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def run_cli(config: Path, out: Path, **extra) -> subprocess.Popen:
    cfg = yaml.safe_load(config.read_text())
    cfg.update(extra)
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "soilco2.cli", "global", "run", str(path), "--out", str(out), "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[float, str]:
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"global run failed ({proc.returncode}): {err.strip()[-2000:]}")
    return time.monotonic() - t0, err


def outputs(run: Path) -> dict[str, np.ndarray]:
    """Every map of maps.nc and every numeric column of totals.parquet."""
    with xr.open_dataset(run / "maps.nc") as ds:
        out = {f"maps.nc:{k}": ds[k].to_numpy().astype("f8") for k in ds.data_vars}
    totals = pd.read_parquet(run / "totals.parquet")
    out.update({f"totals.parquet:{c}": totals[c].to_numpy("f8") for c in totals.select_dtypes("number")})
    return out


def max_abs_diff(a: dict, b: dict) -> float:
    if a.keys() != b.keys():
        return float("inf")
    worst = 0.0
    for k in a:
        x, y = a[k], b[k]
        if x.shape != y.shape or not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        both = ~np.isnan(x)
        worst = max(worst, float(np.max(np.abs(x[both] - y[both]), initial=0.0)))
    return worst


def measure(work: Path, runs: int, quick: bool = False) -> dict:
    """Every way of running; ``quick`` leaves out the local cluster and the rerun."""
    config = small_config(work / "small.yaml", runs)
    entries, reference = {}, None

    def record(name: str, run: Path, seconds: float, **facts) -> None:
        nonlocal reference
        got = outputs(run)
        reference = got if reference is None else reference
        totals = pd.read_parquet(run / "totals.parquet")
        entries[name] = {
            "totals_pg_c_yr_mean": {f: float(totals[f"{f}_pg_c_yr"].mean()) for f in ("rs", "rh", "ra")},
            "max_abs_diff_vs_in_process": max_abs_diff(reference, got),
            "seconds": round(seconds, 1),
            **facts,
        }

    seconds, _ = finish(run_cli(config, work / "in_process", n_workers=1))
    record("in_process", work / "in_process", seconds)
    if not quick:
        seconds, _ = finish(run_cli(config, work / "local_2_workers", n_workers=2))
        record("local_2_workers", work / "local_2_workers", seconds)
    cluster = ExternalCluster(workers=2)
    try:
        for name in ("external_scheduler",) if quick else ("external_scheduler", "rerun"):
            seconds, _ = finish(run_cli(config, work / name, scheduler_address=cluster.address))
            record(name, work / name, seconds)
        proc = run_cli(config, work / "worker_killed", scheduler_address=cluster.address)
        killed = cluster.kill_a_busy_worker(runs)
        seconds, err = finish(proc)
        warned = [line for line in err.splitlines() if "worker(s) lost" in line]
        record("worker_killed", work / "worker_killed", seconds, killed_worker=killed, warning_lines=warned,
               stderr=err.strip().splitlines()[-20:])  # fmt: skip
    finally:
        cluster.close()
    return entries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "results" / "global_reproducibility.json"))
    ap.add_argument("--work", default=None, help="folder for the runs (default: a temporary one)")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--quick", action="store_true", help="in-process, external scheduler, worker killed only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        entries = measure(work, args.runs, args.quick)
    result = {
        "what": "configs/global_tiny.yaml with n_bootstrap, chunk_runs 1, quantile_every 3, n_trees 16: maps.nc and "
        "totals.parquet of each way of running compared with the in-process run",
        "runs": args.runs,
        **entries,
        "all_identical": all(e["max_abs_diff_vs_in_process"] == 0 for e in entries.values()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
