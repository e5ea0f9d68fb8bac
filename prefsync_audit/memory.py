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

Where freed memory is kept, the heap's range the audit is expected to fill is
advised transparent huge pages as well (:func:`advise_huge_heap`), as numpy
advises them for its own arrays.

All are settings of the whole process, so only the command line makes them,
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
#: ``madvise`` advice (``sys/mman.h``): back the range with transparent huge pages.
_MADV_HUGEPAGE = 14
_HUGE_PAGE = 1 << 21

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
    advise_huge_heap(heap_reservation(exports_bytes, available_memory()))
    return True


def heap_reservation(exports_bytes: float, available: int | None) -> int:
    """How much heap to advise huge pages for: the peak the keeping rule
    expects (:data:`AVAILABLE_PER_EXPORT_BYTE` times ``exports_bytes`` plus
    :data:`AVAILABLE_BESIDES`), at most the memory ``available``; 0 when that
    is unknown."""
    if available is None:
        return 0
    return int(min(exports_bytes * AVAILABLE_PER_EXPORT_BYTE + AVAILABLE_BESIDES, available))


def advise_huge_heap(size: int) -> bool:
    """Ask the kernel to back the next ``size`` bytes of glibc's heap with
    transparent huge pages, where it gives them on advice (``madvise`` mode).
    For after :func:`keep_freed_memory`: the heap grows by ``size`` at once,
    takes the advice and frees the block again, and since the heap is never
    trimmed the range stays its own, touched (and backed) only as the audit
    allocates from it. (Otherwise glibc maps so large a block apart and
    unmaps it on free, advice and all.) Returns whether the advice was taken.

    numpy advises huge pages for its own arrays; this gives the same to what
    Arrow and pandas allocate from the heap. A huge page costs one fault where
    small pages cost 512, and fewer misses of the processor's address cache
    over arrays of gigabytes: at 5M persons the audit's system time fell from
    10.4-10.8 to 7.6-9.5 s and its user time by about 1 s
    (``docs/benchmarks.md``)."""
    libc = _glibc()
    # Under strict accounting the range would be charged in full, used or not.
    if libc is None or size < _HUGE_PAGE or _overcommit_is_strict():
        return False
    malloc, free, madvise = libc.malloc, libc.free, libc.madvise
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    madvise.restype = ctypes.c_int
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    block = malloc(size)
    if not block:
        return False
    # The advice applies to whole huge pages within the block.
    start = -(-block // _HUGE_PAGE) * _HUGE_PAGE
    length = (block + size - start) // _HUGE_PAGE * _HUGE_PAGE
    advised = length > 0 and madvise(start, length, _MADV_HUGEPAGE) == 0
    free(block)
    return advised


def _overcommit_is_strict(setting: Path = Path("/proc/sys/vm/overcommit_memory")) -> bool:
    try:
        return setting.read_text().strip() == "2"
    except OSError:
        return False


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


def _glibc() -> ctypes.CDLL | None:
    """The C library the interpreter runs on, where it is glibc on Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version"):  # musl's mallopt does nothing
        return None
    return libc


def _glibc_mallopt():
    libc = _glibc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt
