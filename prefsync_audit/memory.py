"""How the audit's process allocates: one heap for every thread (always, from
``run``), and keeping freed memory (``run``, where the machine has room).

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

Keeping freed memory raises the peak (5M persons: about 16 against 12.6 GiB), so
``run`` keeps it by default only where the machine has room for that
(:func:`keeping_fits`), and either way when told to.

Both are settings of the whole process, so only the command line makes them,
before the audit allocates anything; a library caller keeps its own.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

#: glibc's ``mallopt`` parameters (``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
#: A trim threshold of -1 turns trimming off: the top of the heap is never returned.
_NEVER_TRIM = -1

#: By default freed memory is kept where the memory available is at least this
#: many times the exports' size, plus :data:`AVAILABLE_BESIDES`: kept, the
#: audit's peak was 3.82 GiB for 0.76 GiB of CSV exports (1M persons) and
#: 16.1 GiB for 3.79 GiB (5M), about 4 times the exports and 0.8 GiB besides
#: (``docs/benchmarks.md``); the rule leaves 12-15% above both.
AVAILABLE_PER_EXPORT_BYTE = 4.5
AVAILABLE_BESIDES = 1 << 30


def set_up_memory(keep: bool | None, exports_bytes: float) -> bool:
    """What ``run`` does before the audit: one heap for every thread, and freed
    memory kept when ``keep`` is True or, when it is None, where the machine has
    room for it (:func:`keeping_fits`). Returns whether freed memory is kept
    (never where the C library is not glibc)."""
    share_one_heap()  # where glibc is not the C library this changes nothing
    if keep is None:
        keep = keeping_fits(exports_bytes, available_memory())
    if not (keep and keep_freed_memory()):
        return False
    # DuckDB trims glibc's heap when it opens a database and when its worker
    # threads run out of work: opened now, while the heap holds nothing, and
    # with no worker threads (see prefsync_audit._duckdb).
    from prefsync_audit._duckdb import open_database

    open_database(threads=1)
    return True


def keeping_fits(exports_bytes: float, available: int | None) -> bool:
    """Whether keeping freed memory leaves room: ``available`` bytes (None:
    unknown) at least :data:`AVAILABLE_PER_EXPORT_BYTE` times ``exports_bytes``
    (what the exports hold as text; infinite when unknown, as for a database
    query) plus :data:`AVAILABLE_BESIDES`."""
    needed = exports_bytes * AVAILABLE_PER_EXPORT_BYTE + AVAILABLE_BESIDES
    return available is not None and needed <= available


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The memory the kernel can give without swapping (``MemAvailable``), in
    bytes; None where there is no such figure (not Linux)."""
    try:
        lines = meminfo.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        fields = value.split()
        if name == "MemAvailable" and fields and fields[0].isdigit():
            return int(fields[0]) * (1024 if fields[1:] == ["kB"] else 1)
    return None


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
