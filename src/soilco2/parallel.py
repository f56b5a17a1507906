"""Parallel work: the one Dask path of every parallel loop of soilco2 (S1 ensemble members and
tuning trials, the S2 sweep, S3 runs and predictor subsets): a local cluster whose worker
processes never outlive the command that started them (:mod:`soilco2.dask_plugins`), or a
scheduler address for a real cluster.
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def dask_client(scheduler_address: str | None, n_workers: int, *, field: str):
    """A Dask client: the scheduler at ``scheduler_address`` (a cluster), else a ``LocalCluster``
    of ``n_workers`` single-threaded processes; closed (and the local cluster stopped) on exit.
    An unreachable scheduler is a :class:`UserError` naming the config ``field``."""
    from distributed import Client, LocalCluster

    from soilco2.errors import UserError

    cluster = None
    if scheduler_address:
        try:
            client = Client(scheduler_address, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise UserError(f"cannot reach the Dask scheduler {scheduler_address} ({err})", field=field) from None
    else:
        import dask

        # Two Dask defaults cost a torch training step in a worker 1.7x its time in a plain process
        # (decision E21): MALLOC_TRIM_THRESHOLD_=65536 hands freed memory back to the system at once,
        # so every step's tensors are allocated anew, and the statistical profiler samples the task's
        # stack every 10 ms. Workers keep the C library's allocator settings and run unprofiled; the
        # single-thread BLAS settings stay.
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        quiet = {"distributed.nanny.pre-spawn-environ": environ, "distributed.worker.profile.enabled": False}
        with dask.config.set(quiet):
            cluster = LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
            )
        client = Client(cluster)
        from soilco2.dask_plugins import DieWithParent

        client.register_plugin(DieWithParent())  # local workers never outlive this process
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_tasks(
    fn,
    shared,
    tasks: list,
    *,
    n_workers: int = 1,
    scheduler_address: str | None = None,
    field: str = "scheduler_address",
    label: str = "tasks",
    progress: bool = True,
    on_update=None,
) -> list:
    """``[fn(shared, t) for t in tasks]``, in task order: in this process when ``n_workers`` is 1
    and no scheduler is given, else on Dask (``shared`` is scattered to every worker once). ``fn``
    must be a module-level function whose result depends on its arguments only, so that the same
    tasks give the same results in any process.

    With ``on_update`` (the caller shows its own progress), ``fn`` gets a third argument
    ``report(*values)``; every call reaches ``on_update(*values)`` here, through a Dask queue when
    the task runs on a worker."""
    from soilco2.progress import track

    local = n_workers == 1 and not scheduler_address
    if local and on_update is None:
        return [fn(shared, t) for t in track(tasks, label, progress)]
    if local:
        return [fn(shared, t, on_update) for t in tasks]
    results: list = [None] * len(tasks)
    with dask_client(scheduler_address, n_workers, field=field) as client:
        remote = client.scatter([shared], broadcast=True)[0]  # one object, whatever its type
        if on_update is None:
            from distributed import as_completed

            futures = {client.submit(fn, remote, t, pure=False): k for k, t in enumerate(tasks)}
            done = as_completed(list(futures))
            for _ in track(range(len(tasks)), label, progress):
                fut = next(done)
                results[futures[fut]] = fut.result()
            return results
        return _with_updates(client, fn, remote, tasks, on_update)


def _report_to(queue):
    return lambda *values: queue.put(values)


def _call_reporting(fn, shared, task, queue):
    return fn(shared, task, _report_to(queue))


def _with_updates(client, fn, remote, tasks: list, on_update) -> list:
    """Submit every task with a ``report`` that feeds a Dask queue; relay the queue to
    ``on_update`` until all are done; results in task order (a failed task raises its error)."""
    from distributed import Queue, wait

    queue = Queue(client=client)
    futures = [client.submit(_call_reporting, fn, remote, t, queue, pure=False) for t in tasks]

    def drain() -> None:
        while queue.qsize():
            for values in queue.get(batch=True):
                on_update(*values)

    pending = futures
    while pending:
        try:
            pending = list(wait(pending, timeout=0.5, return_when="FIRST_COMPLETED").not_done)
        except TimeoutError:
            pass
        drain()
        if any(f.status == "error" for f in futures):
            break
    drain()
    return [f.result() for f in futures]
