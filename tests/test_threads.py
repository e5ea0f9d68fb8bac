"""``_threads``: pieces of a stage on several threads, results in order."""

from __future__ import annotations

import threading
import time

import pytest

from prefsync_audit._threads import (
    MAX_DEFAULT_WORKERS,
    default_workers,
    ordered_map,
    side_by_side,
)


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_results_come_in_the_order_of_the_items(workers):
    # Early items take longest: they finish last but are still returned first.
    def slow_square(n: int) -> int:
        time.sleep(0.002 * (10 - n))
        return n * n

    assert list(ordered_map(slow_square, range(10), workers)) == [n * n for n in range(10)]


def test_calls_run_on_several_threads_at_once():
    both_running = threading.Barrier(2, timeout=10)

    def meet(n: int) -> str:
        both_running.wait()  # only passes when two calls run at the same time
        return threading.current_thread().name

    names = list(ordered_map(meet, range(4), workers=2))
    assert threading.current_thread().name not in names


def test_side_by_side_runs_different_calls_at_once_and_keeps_their_order():
    both_running = threading.Barrier(2, timeout=10)

    def first() -> str:
        both_running.wait()
        time.sleep(0.05)  # finishes last, still comes first
        return "first"

    def second() -> tuple[str, int]:
        both_running.wait()
        return "second", 2

    assert side_by_side([first, second], workers=2) == ["first", ("second", 2)]
    # One worker: one after the other, on the caller's thread.
    callers = side_by_side([lambda: threading.current_thread().name] * 2, workers=1)
    assert callers == [threading.current_thread().name] * 2


@pytest.mark.parametrize("workers", [2, 3])
def test_no_more_than_workers_calls_run_at_once(workers):
    lock = threading.Lock()
    running, most = [0], [0]

    def call(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002 * (n % 3))
        with lock:
            running[0] -= 1
        return n

    assert list(ordered_map(call, range(30), workers)) == list(range(30))
    assert most[0] == workers


def test_a_long_first_call_runs_beside_all_the_others():
    # The first call (the largest file) only ends once the last one has run: the
    # others must get the second worker while it runs, one after another.
    last_ran = threading.Event()

    def call(n: int) -> bool:
        if n == 5:
            last_ran.set()
        return last_ran.wait(10) if n == 0 else True

    assert list(ordered_map(call, range(6), workers=2)) == [True] * 6


@pytest.mark.parametrize("workers", [1, 3])
def test_the_first_failure_in_order_is_raised_and_no_more_calls_start(workers):
    called: list[int] = []

    def check(n: int) -> int:
        called.append(n)
        if n in (2, 3):
            # The later failure finishes first: the earlier one is still raised.
            time.sleep(0.05 if n == 2 else 0)
            raise ValueError(f"item {n}")
        if n > 3:
            # Long enough for item 3's failure to be seen before these end: calls
            # that end at once could let more start while its thread waits for the
            # GIL on a loaded machine.
            time.sleep(0.2)
        return n

    results = ordered_map(check, range(50), workers)
    with pytest.raises(ValueError, match="item 2"):
        list(results)
    # Calls past the window of the failing one were never started.
    assert sorted(called) == list(range(max(called) + 1)) and max(called) < 2 + 2 * workers


def test_default_workers_is_bounded():
    assert 1 <= default_workers() <= MAX_DEFAULT_WORKERS


def test_a_failure_does_not_wait_for_the_calls_still_running():
    release = threading.Event()
    finished: list[int] = []

    def call(n: int) -> int:
        if n == 0:
            raise ValueError("the first call fails")
        release.wait(10)
        finished.append(n)
        return n

    with pytest.raises(ValueError, match="first call"):
        list(ordered_map(call, range(2), workers=2))
    # The second call is still running: the error was raised without waiting for it.
    assert finished == []
    release.set()
