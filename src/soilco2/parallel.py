"""Parallel work: the one Dask path of every parallel loop of soilco2 (S1 ensemble members and
tuning trials, the S2 sweep, S3 runs and predictor subsets): a local cluster whose worker
processes never outlive the command that started them (:mod:`soilco2.dask_plugins`), or a
scheduler address for a real cluster.
"""

from __future__ import annotations

from contextlib import contextmanager

PROBE_SECONDS = 5.0


def probe_scheduler(address: str, *, field: str, file=None, seconds: float = PROBE_SECONDS) -> None:
    """Ask ``address`` who it is, within ``seconds`` whatever it is: nothing there, a server that
    never answers (a web server waits for a request line that never comes) or one that answers
    in another protocol are each a :class:`UserError` naming ``file`` and ``field``."""
    import asyncio

    from distributed.comm import connect

    from soilco2.errors import UserError

    async def identity():
        comm = await connect(address, timeout=seconds)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded():
        return await asyncio.wait_for(identity(), seconds)

    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(1) as pool:  # its own event loop, also under a notebook's running one
            reply = pool.submit(asyncio.run, bounded()).result()
    except TimeoutError:
        raise UserError(
            f"no Dask scheduler answered at {address} within {seconds:g} s", file=file, field=field
        ) from None
    except Exception as err:  # noqa: BLE001 - whatever the far end did, the answer is one line
        msg = str(err).splitlines()[0] if str(err) else err.__class__.__name__
        raise UserError(f"cannot reach a Dask scheduler at {address} ({msg[:160]})", file=file, field=field) from None
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        raise UserError(f"{address} answers, but not as a Dask scheduler", file=file, field=field)


@contextmanager
def dask_client(scheduler_address: str | None, n_workers: int, *, field: str, file=None):
    """A Dask client: the scheduler at ``scheduler_address`` (a cluster), else a ``LocalCluster``
    of ``n_workers`` single-threaded processes; closed (and the local cluster stopped) on exit.
    A scheduler that does not answer as one within seconds is a :class:`UserError` naming the
    config ``file`` and ``field``."""
    from distributed import Client, LocalCluster

    from soilco2.errors import UserError

    cluster = None
    if scheduler_address:
        probe_scheduler(scheduler_address, field=field, file=file)
        try:
            client = Client(scheduler_address, timeout=f"{PROBE_SECONDS:g}s")
        except (OSError, TimeoutError) as err:
            raise UserError(
                f"cannot reach the Dask scheduler {scheduler_address} ({err})", file=file, field=field
            ) from None
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
    file=None,
    label: str = "tasks",
    progress: bool = True,
    on_update=None,
) -> list:
    """``[fn(shared, t) for t in tasks]``, in task order: in this process when ``n_workers`` is 1
    and no scheduler is given, else on Dask (``shared`` is scattered to every worker once). ``fn``
    must be a module-level function whose result depends on its arguments only, so that the same
    tasks give the same results in any process.

    Each result is fetched and released on the cluster as soon as its task ends, so a worker that
    dies costs only the tasks it was running (one warning line says so), never finished ones.

    With ``on_update`` (the caller shows its own progress), ``fn`` gets a third argument
    ``report(*values)``; every call reaches ``on_update(*values)`` here, through a Dask queue when
    the task runs on a worker."""
    from soilco2.progress import track

    local = n_workers == 1 and not scheduler_address
    if local and on_update is None:
        return [fn(shared, t) for t in track(tasks, label, progress)]
    if local:
        return [fn(shared, t, on_update) for t in tasks]
    with dask_client(scheduler_address, n_workers, field=field, file=file) as client:
        remote = client.scatter([shared], broadcast=True)[0]  # one object, whatever its type
        return _run_on(client, fn, remote, tasks, label=label, progress=progress and on_update is None,
                       on_update=on_update)  # fmt: skip


def _report_to(queue):
    return lambda *values: queue.put(values)


def _call_reporting(fn, shared, task, queue):
    return fn(shared, task, _report_to(queue))


class _WorkerWatch:
    """One warning line for each worker the cluster loses while tasks run (a worker counts as lost
    when two checks in a row miss it, so a momentary gap in the scheduler's list is no loss)."""

    def __init__(self, client):
        self.client = client
        self.known = self._workers() or set()
        self.missing: set[str] = set()
        self.lost = 0

    def _workers(self) -> set[str] | None:
        try:
            return set(self.client.scheduler_info(n_workers=-1)["workers"])
        except Exception:  # noqa: BLE001 - a watch, never a reason to fail the run
            return None

    def check(self, remaining: int) -> None:
        import warnings

        now = self._workers()
        if now is None:
            return
        gone = (self.known - now) & self.missing
        self.missing = (self.known - now) - gone
        if gone:
            self.lost += len(gone)
            warnings.warn(
                f"{len(gone)} Dask worker(s) lost ({', '.join(sorted(gone))}); finished tasks are kept, "
                f"the {remaining} unfinished are rescheduled on the {len(now)} left",
                stacklevel=2,
            )
        self.known = (self.known - gone) | now


def _run_on(client, fn, remote, tasks: list, *, label: str, progress: bool, on_update) -> list:
    """Submit every task; fetch each result as its task ends and release it at once; relay
    ``report`` values to ``on_update``; results in task order (a failed task raises its error)."""
    from distributed import Queue, wait

    from soilco2.progress import track

    queue = Queue(client=client) if on_update is not None else None
    if queue is None:
        pending = {client.submit(fn, remote, t, pure=False): k for k, t in enumerate(tasks)}
    else:
        pending = {client.submit(_call_reporting, fn, remote, t, queue, pure=False): k for k, t in enumerate(tasks)}
    results: list = [None] * len(tasks)
    watch = _WorkerWatch(client)

    def drain() -> None:
        while queue is not None and queue.qsize():
            for values in queue.get(batch=True):
                on_update(*values)

    ticks = iter(track(range(len(tasks)), label, progress))
    while pending:
        try:
            done = wait(list(pending), timeout=1.0, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            done = set()
        drain()
        for fut in done:
            k = pending.pop(fut)
            results[k] = fut.result()  # a failed task raises here
            fut.release()  # the cluster forgets it: a worker lost later cannot take it along
            next(ticks, None)
        watch.check(len(pending))
    drain()
    for _ in ticks:  # close the bar
        pass
    return results
