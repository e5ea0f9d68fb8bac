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
13.9–14.1 GiB). The limit holds only for threads that have not allocated
yet: one that has keeps an arena of its own, and glibc then hands each new
thread that arena or the main one in turn. Importing pyarrow starts such a
thread (jemalloc's background thread), so the command line asks for one
arena before it imports anything that imports pyarrow
(``prefsync_audit.cli``); otherwise half the audit's workers allocate from
a second arena, neither kept nor advised (3.2 GiB of it by the end of
loading at 5M persons). Keeping freed memory for reuse as well avoids most
of the host's faults, at the cost of a higher peak: the process keeps what
it freed.

Keeping freed memory raises the peak (5M persons: about 16 against 12.6 GiB), so
``run`` keeps it by default only where the machine has room for that
(:func:`keeping_fits`), and either way when told to.

Where freed memory is kept, the heap grows at once to the range the audit is
expected to fill (:func:`reserve_heap`); that range is advised transparent
huge pages past its first 2 GiB (:func:`advise_huge_pages`), as numpy
advises them for its own arrays, and a thread of the lowest priority faults
it in a little ahead of the audit (:func:`prefault_heap`), huge pages or
not, so that the host's first touches are paid on a core the audit leaves
idle.

All are settings of the whole process, so only the command line makes them,
before the audit allocates anything; a library caller keeps its own.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

#: glibc's ``mallopt`` parameters (``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
#: A trim threshold of -1 turns trimming off: the top of the heap is never returned.
_NEVER_TRIM = -1
#: ``madvise`` advice (``sys/mman.h``): back the range with transparent huge pages.
_MADV_HUGEPAGE = 14
#: ``madvise`` advice (Linux 5.14): fault the range in, writable, as a first write
#: to each page would, without writing (what the pages hold is left alone).
_MADV_POPULATE_WRITE = 23
_HUGE_PAGE = 1 << 21
_PAGE = mmap.PAGESIZE
#: The prefaulting thread keeps this many bytes ahead of the heap's top (a
#: sixteenth of the range, at least :data:`PREFAULT_AHEAD_AT_LEAST`): the peak
#: grows by at most that much. It faults in a few MiB at a time, so that the
#: kernel's lock on the process's mappings is never held long.
PREFAULT_AHEAD_SHARE = 16
PREFAULT_AHEAD_AT_LEAST = 256 << 20
#: The thread starts once the heap's top is this far into the range: a small
#: audit touches little memory (and most of it the host still backs, from the
#: processes before), and would only pay for what lies ahead in its peak
#: (725 against 465 MB for the test suite's long export of 34 MB).
PREFAULT_FROM = 2 << 30
#: Huge pages are advised only this far into the range, where only a large
#: audit's heap reaches. Below it a small audit's scattered touches would each
#: fault in a whole 2 MiB page: Arrow's CSV reader reserves buffers per column
#: and block and writes little of each (7 GB of heap for the test suite's wide
#: export of 111 MB, 200 columns), which then peaked at 1.5 GB with the whole
#: range advised, against 0.6 GB without.
HUGE_PAGES_FROM = 2 << 30
_PREFAULT_STEP = 4 << 20
#: How often a thread looks where the heap's top is, for the prefaulting thread,
#: at most. A look (``mallinfo2``) walks every free chunk under the heap's
#: lock: 2-13 ms of processor time at 5M persons, where the heap holds many.
#: When the prefaulting thread (of the lowest priority) looked itself, every
#: 20 ms and after each step, it held the lock for as long as it waited for a
#: core, 28.4 s in all over a 5M audit (``docs/benchmarks.md``). Between looks
#: the prefaulting thread faults in all the way to where it is to be ahead:
#: the top rises by at most a few hundred MiB a second, and it keeps at least
#: :data:`PREFAULT_AHEAD_AT_LEAST` ahead.
PREFAULT_LOOK_EVERY = 0.25
#: The looking thread runs at the audit's priority: after each look it waits at
#: least this many times as long as the look took, so that looking never takes
#: more than a fiftieth of a core from the audit.
PREFAULT_LOOK_SHARE = 50
_PREFAULT_THREAD = "prefault-heap"
_WATCH_THREAD = "heap-top"

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
    heap = reserve_heap(heap_reservation(exports_bytes, available_memory()))
    if heap is not None:
        advise_huge_pages(heap)
        # First touches cost the host's faults in small pages as in huge ones.
        prefault_heap(heap)
    return True


def heap_reservation(exports_bytes: float, available: int | None) -> int:
    """How much heap to reserve (:func:`reserve_heap`): the peak the keeping rule
    expects (:data:`AVAILABLE_PER_EXPORT_BYTE` times ``exports_bytes`` plus
    :data:`AVAILABLE_BESIDES`), at most the memory ``available``; 0 when that
    is unknown."""
    if available is None:
        return 0
    return int(min(exports_bytes * AVAILABLE_PER_EXPORT_BYTE + AVAILABLE_BESIDES, available))


class HeapRange(NamedTuple):
    """A range of glibc's heap, in whole huge pages: its address and length."""

    start: int
    length: int


def reserve_heap(size: int) -> HeapRange | None:
    """Grow glibc's heap by ``size`` bytes at once and free them again, for after
    :func:`keep_freed_memory`: since the heap is never trimmed the range stays
    the heap's, touched (and backed) only as the audit allocates from it, and
    the audit's blocks come from it in address order as the heap's top rises.
    (Otherwise glibc maps so large a block apart and unmaps it on free.)
    Returns the range in whole huge pages, or None where there is no glibc,
    under strict overcommit (the range would be charged in full, used or not)
    or where the block cannot be had."""
    libc = _glibc()
    if libc is None or size < _HUGE_PAGE or _overcommit_is_strict():
        return None
    malloc, free = libc.malloc, libc.free
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    block = malloc(size)
    if not block:
        return None
    start = _huge_pages_up(block)
    free(block)
    return HeapRange(start, (block + size - start) // _HUGE_PAGE * _HUGE_PAGE)


def advise_huge_pages(heap: HeapRange, skip: int = HUGE_PAGES_FROM) -> bool:
    """Ask the kernel to back ``heap`` but for its first ``skip`` bytes with
    transparent huge pages, where it gives them on advice (``madvise`` mode).
    Returns whether the advice was taken (False where ``skip`` leaves nothing
    to advise, or the kernel has no such pages).

    numpy advises huge pages for its own arrays; this gives the same to what
    Arrow and pandas allocate from the heap. A huge page costs one fault where
    small pages cost 512, and fewer misses of the processor's address cache
    over arrays of gigabytes: at 5M persons the audit's system time fell from
    10.4-10.8 to 7.6-9.5 s and its user time by about 1 s
    (``docs/benchmarks.md``)."""
    libc = _glibc()
    skipped = min(_huge_pages_up(skip), heap.length)
    if libc is None or heap.length <= skipped:
        return False
    return _madvise(libc)(heap.start + skipped, heap.length - skipped, _MADV_HUGEPAGE) == 0


def _huge_pages_up(address: int) -> int:
    return -(-address // _HUGE_PAGE) * _HUGE_PAGE


def _madvise(libc: ctypes.CDLL):
    madvise = libc.madvise
    madvise.restype = ctypes.c_int
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return madvise


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


@dataclass
class HeapPrefault:
    """The threads :func:`prefault_heap` started: how far into the range pages
    are faulted in or the heap's top has risen (``reached``), how many bytes
    the prefaulting ``thread`` faulted in itself (``faulted``), and how many
    times the ``watcher`` looked where the heap's top is (``looks``) and where
    it was last (``top``, bytes into the range)."""

    heap: HeapRange
    ahead: int
    start: int
    reached: int = 0
    faulted: int = 0
    looks: int = 0
    top: int = 0
    ended: bool = False
    """Set by either thread when it stops: the other stops too."""
    looked: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    watcher: threading.Thread | None = None


def prefault_heap(
    heap: HeapRange, ahead: int | None = None, start: int = PREFAULT_FROM
) -> HeapPrefault | None:
    """Fault the kept heap's range in a little ahead of the audit, on a thread
    that runs only when a core is idle (``SCHED_IDLE``): ``ahead`` bytes beyond
    the heap's top (by default a :data:`PREFAULT_AHEAD_SHARE`-th of the range,
    at least :data:`PREFAULT_AHEAD_AT_LEAST`), as the top rises, once the top
    is ``start`` bytes into the range. Where the top is, a second thread looks
    every :data:`PREFAULT_LOOK_EVERY` (or less often, where a look takes long:
    :data:`PREFAULT_LOOK_SHARE`), at the audit's own priority: a look takes the
    heap's lock, which a thread waiting for an idle core would hold while it
    waits.

    On a virtual machine whose kernel reports free memory to its host, the
    first touch of a page the host no longer backs costs a fault in the host
    as well (2.2-2.5 s per GiB on the benchmark's Intel machine, against
    0.16 s for a page it still backs), and at 5M persons the audit touches
    about 15 GiB; the audit often leaves a core idle (a worker waiting for the
    other, a serial step), and there the thread pays those faults instead
    (``docs/benchmarks.md``). ``MADV_POPULATE_WRITE`` faults pages in without
    writing to them, so it is safe beside threads that use the same pages.
    Returns None, starting nothing, where there is no glibc, no ``mallinfo2``
    (which tells where the heap's top is) or no idle priority, where the range
    ends before ``start``, or where such a thread runs already (the process ran
    ``run`` before: the heap is the same)."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2") or not hasattr(os, "SCHED_IDLE"):
        return None
    if heap.length <= start:
        return None  # the top never gets that far into the range
    if any(thread.name == _PREFAULT_THREAD for thread in threading.enumerate()):
        return None
    if ahead is None:
        ahead = max(PREFAULT_AHEAD_AT_LEAST, heap.length // PREFAULT_AHEAD_SHARE)
    prefault = HeapPrefault(heap, ahead, start)
    prefault.thread = threading.Thread(
        target=_populate_ahead, args=(libc, prefault), name=_PREFAULT_THREAD, daemon=True
    )
    prefault.watcher = threading.Thread(
        target=_watch_top, args=(libc, prefault), name=_WATCH_THREAD, daemon=True
    )
    prefault.thread.start()
    prefault.watcher.start()
    return prefault


def _watch_top(libc: ctypes.CDLL, prefault: HeapPrefault) -> None:
    """Tell the prefaulting thread where the heap's top is, every
    :data:`PREFAULT_LOOK_EVERY`, until either thread stops."""
    libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t]
    libc.mallinfo2.restype = _MallInfo2
    heap = prefault.heap
    try:
        while not prefault.ended:
            brk = libc.sbrk(0)
            if brk < heap.start + heap.length:
                return  # the heap was trimmed: the range is no longer all the heap's
            # The heap's top chunk runs from its start up to the break; malloc
            # takes new memory from its start, so that is where the audit touches
            # next. In whole pages (madvise takes no less), not huge pages: rounded
            # up to those, the rest of the top's huge page would stay a hole where
            # the range is in small pages.
            began = time.thread_time()
            top = max(heap.start, brk - libc.mallinfo2().keepcost) // _PAGE * _PAGE
            took = time.thread_time() - began
            prefault.top = top - heap.start
            prefault.looks += 1
            prefault.looked.set()
            time.sleep(max(PREFAULT_LOOK_EVERY, took * PREFAULT_LOOK_SHARE))
    finally:
        prefault.ended = True
        prefault.looked.set()


def _populate_ahead(libc: ctypes.CDLL, prefault: HeapPrefault) -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # this thread only
    except OSError:
        prefault.ended = True
        return  # at the audit's own priority it would take the audit's time
    madvise = _madvise(libc)
    heap = prefault.heap
    try:
        while prefault.reached < heap.length:
            prefault.looked.wait()
            prefault.looked.clear()
            if prefault.ended:
                return
            top = prefault.top
            prefault.reached = max(prefault.reached, top)
            target = min(heap.length, top + prefault.ahead) if top >= prefault.start else 0
            while prefault.reached < target:
                step = min(_PREFAULT_STEP, target - prefault.reached)
                if madvise(heap.start + prefault.reached, step, _MADV_POPULATE_WRITE) != 0:
                    return  # a kernel before 5.14 has no such advice
                prefault.reached += step
                prefault.faulted += step
    finally:
        prefault.ended = True


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
    """Make every thread allocate from glibc's main arena (``M_ARENA_MAX`` 1):
    every thread that has not allocated yet (one that has keeps its own arena,
    and glibc hands that arena to new threads in turn). Returns False, changing
    nothing, where the C library is not glibc."""
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
