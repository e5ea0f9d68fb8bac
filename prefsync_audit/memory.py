"""How the audit's process allocates: one heap for every thread (always, from
``run``), and keeping freed memory (``run --keep-freed-memory``).

On a virtual machine whose kernel hands free memory back to its host (virtio
balloon free page reporting, common on cloud machines), memory the audit frees
and takes again a few seconds later costs a fault in the host on each first
touch: on the benchmark machine, 2.8 s per GiB against 0.1 s for memory the
process still holds. A large audit frees and allocates gigabytes between its
steps, and the longer the steps (the larger the exports), the more of that
memory is handed back before it is taken again (``docs/benchmarks.md``).

By default glibc gives each thread that allocates an arena of its own, made of
64 MiB heaps it unmaps when they empty. The audit's worker threads (loading,
mapping, evaluation) then leave memory scattered over several arenas and hand
it back as their heaps empty: one arena for all of them was faster and lower
at the peak (5M persons: 209–211 s and 12.9 GiB, against 222–224 s and
13.9–14.1 GiB). Keeping freed memory for reuse as well avoids most of the
host's faults, at the cost of a higher peak: the process keeps what it freed.

Both are settings of the whole process, so only the command line makes them,
before the audit allocates anything; a library caller keeps its own.
"""

from __future__ import annotations

import ctypes
import sys

#: glibc's ``mallopt`` parameters (``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
#: A trim threshold of -1 turns trimming off: the top of the heap is never returned.
_NEVER_TRIM = -1


def share_one_heap() -> bool:
    """Make every thread allocate from glibc's main arena (``M_ARENA_MAX`` 1).
    Returns False, changing nothing, where the C library is not glibc."""
    mallopt = _glibc_mallopt()
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, 1))


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory (large blocks from the heap, not
    mapped and unmapped each time; the heap not trimmed; one heap for every
    thread) and Arrow allocate through it. Returns False, changing nothing,
    where the C library is not glibc (macOS, Windows, musl)."""
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    # With an arena per thread, a worker's 64 MiB heaps are unmapped when they
    # empty, whatever the trim threshold: at 5M persons that memory went to the
    # host and back (219 s, against 195 s with one arena).
    settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _NEVER_TRIM))
    if not (share_one_heap() and all(mallopt(name, value) for name, value in settings)):
        return False
    import pyarrow as pa

    # Arrow's own allocator (mimalloc) returns freed memory after milliseconds,
    # and can be told otherwise only by environment variables read when it loads.
    pa.set_memory_pool(pa.system_memory_pool())
    return True


def _glibc_mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter runs on
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    if not hasattr(libc, "gnu_get_libc_version"):  # musl's mallopt does nothing
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt
