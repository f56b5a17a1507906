"""Parallel work: worker processes that never outlive the command that started them, and the one
Dask client every parallel loop of soilco2 uses (a local cluster, or a scheduler address).

:func:`die_with_parent` is the initializer of every worker process soilco2 starts: on Linux the
kernel kills the worker when its parent dies (``PR_SET_PDEATHSIG``), and everywhere a watcher
thread exits it once its parent is gone (SIGKILL of the parent included). :func:`stop_children`
ends the workers at once when the parent is interrupted, instead of waiting for their jobs.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1


def die_with_parent(poll_seconds: float = 1.0) -> None:
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the watcher alone
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def stop_children() -> None:
    """Terminate (then kill) every live child process of this process."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=5)
        if child.is_alive():
            child.kill()


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
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
