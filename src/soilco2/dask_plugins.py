"""Worker processes that never outlive the command that started them: a Dask worker plugin for
soilco2's local clusters (imported only when a cluster starts).

In every local worker, on Linux the kernel kills the worker when its parent dies
(``PR_SET_PDEATHSIG``), and everywhere a watcher thread exits it once its parent is gone (SIGKILL
of the parent included).
"""

from __future__ import annotations

import os
import signal
import threading
import time

from distributed.diagnostics.plugin import WorkerPlugin

PR_SET_PDEATHSIG = 1


def die_with_parent(poll_seconds: float = 1.0) -> None:
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the watcher alone
        pass
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    except ValueError:  # not the main thread: the parent still stops the cluster
        pass

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


class DieWithParent(WorkerPlugin):
    """:func:`die_with_parent` in every local worker process."""

    name = "soilco2-die-with-parent"

    def setup(self, worker) -> None:
        die_with_parent()
