"""The one Dask path of every parallel loop: results in task order and equal to in-process, task
progress relayed from the workers, a failed task raised here."""

from __future__ import annotations

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
