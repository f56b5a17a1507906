"""Progress of every long step: rich bars on a terminal; in a log (a batch job, ``| tee log``)
plain lines on stderr instead, each starting ``progress:`` (as errors start ``error:``): rich's
live display is silent without a terminal, which left a cluster user's log empty until the end."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
PLAIN_EVERY_S = 30.0  # a plain line at least this often while a loop runs (and every 5 %)


def is_terminal() -> bool:
    return sys.stderr.isatty()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def track(items: Sequence[T], label: str, show: bool = True) -> Iterator[T]:
    if not show:
        yield from items
        return
    if not is_terminal():
        yield from _plain(items, label)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def _plain(items: Sequence[T], label: str) -> Iterator[T]:
    n, t0 = len(items), time.monotonic()
    step, last = max(1, n // 20), t0
    for k, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if k == n or k % step == 0 or now - last >= PLAIN_EVERY_S:
            last = now
            left = (now - t0) / k * (n - k)
            print(
                f"progress: {label} {k}/{n}, {_clock(now - t0)} elapsed, about {_clock(left)} left",
                file=sys.stderr,
                flush=True,
            )


class PlainProgress:
    """The part of rich's ``Progress`` that soilco2 uses (``add_task``, ``update``, ``advance``), as
    one plain line on stderr whenever a task's count moves."""

    def __init__(self, show: bool = True, unit: str = "epochs"):
        self.show, self.unit, self.tasks = show, unit, {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **fields) -> int:
        self.tasks[len(self.tasks)] = {"description": description, "total": total, "completed": 0,
                                       "fields": fields, "t0": time.monotonic()}  # fmt: skip
        return len(self.tasks) - 1

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, completed=self.tasks[task]["completed"] + advance)

    def update(self, task: int, *, completed=None, total=None, advance=None, description=None, **fields) -> None:
        t = self.tasks[task]
        before = t["completed"]
        if total is not None:
            t["total"] = total
        if advance is not None:
            completed = before + advance
        if completed is not None:
            t["completed"] = completed
        t["fields"].update(fields)
        if description is not None:
            t["description"] = description
        if self.show and completed is not None and completed != before:
            spent = time.monotonic() - t["t0"]
            done, total = t["completed"], t["total"]
            left = f", about {_clock(spent / done * (total - done))} left" if total and done else ""
            info = t["fields"].get("info", "")
            print(f"progress: {t['description']}: {done:g}/{total:g} {self.unit}{f' ({info})' if info else ''}, "
                  f"{_clock(spent)} elapsed{left}", file=sys.stderr, flush=True)  # fmt: skip
