"""The one Dask path of every parallel loop: results in task order and equal to in-process, task
progress relayed from the workers, a failed task raised here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soilco2.parallel import map_tasks


def _draws(shared: dict, task: int, report=None) -> float:
    rng = np.random.default_rng([shared["seed"], task])
    if report is not None:
        for k in range(3):
            report(task, k)
    return float(rng.normal(size=shared["n"]).sum())


def _fails(shared, task, report=None):
    if task == 2:
        raise ValueError("task 2 failed")
    return task


def test_two_local_workers_give_the_in_process_results_in_order():
    shared, tasks = {"seed": 7, "n": 1000}, list(range(6))
    here = map_tasks(_draws, shared, tasks, n_workers=1, progress=False)
    there = map_tasks(_draws, shared, tasks, n_workers=2, progress=False)
    assert here == there == [_draws(shared, t) for t in tasks]


def test_progress_reports_reach_the_caller_from_the_workers():
    shared, tasks, seen = {"seed": 1, "n": 10}, list(range(4)), []
    res = map_tasks(_draws, shared, tasks, n_workers=2, on_update=lambda t, k: seen.append((t, k)))
    assert res == [_draws(shared, t) for t in tasks]
    assert sorted(seen) == [(t, k) for t in tasks for k in range(3)]


def test_a_failed_task_raises_its_error():
    with pytest.raises(ValueError, match="task 2 failed"):
        map_tasks(_fails, {}, list(range(4)), n_workers=2, on_update=lambda *v: None)


def _worker_settings() -> tuple:
    import os

    import dask

    return (
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        os.environ.get("OMP_NUM_THREADS"),
        dask.config.get("distributed.worker.profile.enabled"),
    )


def test_local_workers_keep_the_allocator_and_run_unprofiled():
    """Dask's default MALLOC_TRIM_THRESHOLD_ and its stack sampler slowed a torch training step in
    a worker to 1.7x its time in a plain process; local workers start without both."""
    from soilco2.parallel import dask_client

    with dask_client(None, 1, field="x") as client:
        settings = list(client.run(_worker_settings).values())
    assert settings == [(None, "1", False)]


# --- a real cluster: `dask scheduler` + `dask worker` processes -------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_quantile_forest_fit_is_a_pure_function_of_seed_whatever_other_threads_draw():
    """quantile-forest's default keeps one record a leaf drawn from Python's global random module;
    a thread drawing from it beside the fit changed the forest. With every record kept, it cannot."""
    import random
    import threading

    from soilco2.models.forest import QuantileForest

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(400, 3)), rng.gamma(2.0, size=400)
    reference = QuantileForest(20, seed=3).fit(X, y).predict_quantiles(X[:50])
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    noise = threading.Thread(target=draw, daemon=True)
    noise.start()
    try:
        again = [QuantileForest(20, seed=3).fit(X, y).predict_quantiles(X[:50]) for _ in range(4)]
    finally:
        stop.set()
        noise.join()
    assert all(np.array_equal(reference, a) for a in again)


@pytest.mark.realdata
def test_s3_maps_identical_on_an_external_cluster_and_after_a_worker_is_killed(data_root, tmp_path):
    """The reproducibility benchmark's quick mode: in-process, on a real scheduler with two worker
    processes started from the dask CLI, and there again with one worker SIGKILLed half-way —
    every map and total identical, and one warning line for the lost worker."""
    import json
    import subprocess
    import sys

    out = tmp_path / "repro.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "global_reproducibility.py"), "--quick", "--runs", "8",
           "--work", str(tmp_path / "work"), "--out", str(out)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(out.read_text())
    for name in ("in_process", "external_scheduler", "worker_killed"):
        assert got[name]["max_abs_diff_vs_in_process"] == 0.0, name
    assert len(got["worker_killed"]["warning_lines"]) == 1


@pytest.mark.parametrize(
    "address, message",
    [
        ("::::", "not a Dask scheduler address"),
        ("not a url at all", "not a Dask scheduler address"),
        ("http://127.0.0.1:8787", "web address"),
        ("tcp://127.0.0.1:99999", "not a Dask scheduler address"),
    ],
)
def test_a_scheduler_address_that_is_no_address_is_refused_by_the_config(tmp_path, address, message):
    from soilco2.config import load_config
    from soilco2.errors import UserError
    from soilco2.global_.config import GlobalConfig

    cfg = tmp_path / "g.yaml"
    cfg.write_text(f"scheduler_address: '{address}'\n")
    with pytest.raises(UserError, match=message) as err:
        load_config(cfg, GlobalConfig)
    assert str(cfg) in str(err.value) and "scheduler_address" in str(err.value)


def _http_server():
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_web_server_or_nothing_at_the_address_is_refused_in_seconds_naming_file_and_field(tmp_path):
    """The CLI refuses before any input is read: one line, exit 2, the config file and field named."""
    import socket
    import subprocess
    import sys
    import time

    server = _http_server()
    with socket.socket() as s:  # a port with nothing behind it
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    try:
        for port in (server.server_address[1], closed):
            cfg = tmp_path / f"g{port}.yaml"
            cfg.write_text(f"scheduler_address: tcp://127.0.0.1:{port}\nout_dir: {tmp_path / 'run'}\n")
            t0 = time.monotonic()
            res = subprocess.run([sys.executable, "-m", "soilco2.cli", "global", "run", str(cfg)],
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
            assert time.monotonic() - t0 < 30
            assert res.returncode == 2 and "Traceback" not in res.stderr
            line = res.stderr.strip()
            assert len(line.splitlines()) == 1 and str(cfg) in line and "scheduler_address" in line
            assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
    finally:
        server.shutdown()
