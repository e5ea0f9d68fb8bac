"""Independent pieces of one stage run on several cores, results in order.

Most of the audit's time is spent in Arrow, numpy and pandas routines that
release the GIL (parsing, hashing bytes, sorts, gathers), so threads that each
take one piece of a stage (a file to load and map, a batch of persons to
evaluate) use a machine's other cores without copying anything between them.
The result never depends on the number of workers: the pieces are independent
and joined in their own order.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: The default never exceeds this: each worker holds a piece in memory
#: (a file, a batch of persons), and past a few cores the stages' serial parts
#: dominate.
MAX_DEFAULT_WORKERS = 4


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_workers() -> int:
    """The number of threads a stage uses unless told: the CPUs available, at
    most ``MAX_DEFAULT_WORKERS``."""
    return min(MAX_DEFAULT_WORKERS, available_cpus())


def ordered_map(
    function: Callable[[Item], Result], items: Iterable[Item], workers: int
) -> Iterator[Result]:
    """``map(function, items)``, ``workers`` calls at a time.

    Results come in the order of ``items``; at most ``workers`` of them are
    computed ahead of the one the caller waits for, so memory stays that of
    ``workers`` pieces. A call's exception is raised in its turn, as a plain
    ``map`` would, and no further call is started.

    Each call runs on a daemon thread of its own (a few per stage, so the cost
    of starting them is nothing beside the work): on an error or Ctrl-C the
    caller gets control back at once, and the process can exit, while calls
    already running finish in the background. A thread pool would make both
    wait for them (up to a minute for a large file).
    """
    if workers <= 1:
        yield from map(function, items)
        return
    pending: deque[Future[Result]] = deque()
    for item in items:
        if len(pending) >= workers:
            yield pending.popleft().result()
        pending.append(_started(function, item))
    while pending:
        yield pending.popleft().result()


def _started(function: Callable[[Item], Result], item: Item) -> Future[Result]:
    """``function(item)`` running on a new daemon thread, as a future."""
    future: Future[Result] = Future()

    def run() -> None:
        try:
            future.set_result(function(item))
        except BaseException as exc:  # handed to the caller, who raises it
            future.set_exception(exc)

    threading.Thread(target=run, name="prefsync-audit", daemon=True).start()
    return future
