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
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, TypeVar

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

    Results come in the order of ``items``. While the caller waits for one, a
    call that finishes early makes room for the next item: a long first piece
    (the largest file) runs beside all the others rather than beside one. The
    results finished early wait for the earlier ones in memory (both callers
    keep every result anyway). A call's exception is raised in its turn, as a
    plain ``map`` would, and no call starts after one has failed.

    Each call runs on a daemon thread of its own (a few per stage, so the cost
    of starting them is nothing beside the work): on an error or Ctrl-C the
    caller gets control back at once, and the process can exit, while calls
    already running finish in the background. A thread pool would make both
    wait for them (up to a minute for a large file).
    """
    if workers <= 1:
        yield from map(function, items)
        return
    remaining = iter(items)
    pending: deque[Future[Result]] = deque()
    exhausted = failed = False
    while True:
        running = [future for future in pending if not future.done()]
        failed = failed or any(f.done() and f.exception() is not None for f in pending)
        while len(running) < workers and not (exhausted or failed):
            item = next(remaining, _END)
            if item is _END:
                exhausted = True
                break
            running.append(_started(function, item))
            pending.append(running[-1])
        if not pending:
            return
        if pending[0].done():
            yield pending.popleft().result()
        else:
            wait(running, return_when=FIRST_COMPLETED)


def side_by_side(calls: list[Callable[[], Any]], workers: int) -> list[Any]:
    """The results of independent ``calls``, ``workers`` of them at a time, in
    the calls' order (one after the other with one worker)."""
    return list(ordered_map(lambda call: call(), calls, workers))


#: Marks the end of the items (an item may be None).
_END: Any = object()


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
