"""prefsync_audit.memory: keeping freed memory in the process (each case in a
process of its own: the setting is the whole process's), and when ``run`` keeps it."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prefsync_audit.memory import (
    AVAILABLE_BESIDES,
    AVAILABLE_PER_EXPORT_BYTE,
    PREFAULT_LOOK_EVERY,
    available_memory,
    keeping_fits,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the setting is glibc's"
)

# Allocate, touch and free 256 MiB twice; count the page faults of the second time.
PROBE = """
import json, resource, sys
import numpy as np
import pyarrow as pa
from prefsync_audit.memory import keep_freed_memory

kept = keep_freed_memory() if sys.argv[1] == "keep" else None
block = np.ones(1 << 25)  # 256 MiB of float64
del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block = np.ones(1 << 25)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"kept": kept, "faults": faults, "pool": pa.default_memory_pool().backend_name}))
"""


def probe(mode: str, source: str = PROBE) -> dict:
    """Run a probe in a process of its own (``mode``: its first argument); its JSON."""
    done = subprocess.run(
        [sys.executable, "-c", source, mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_freed_memory_is_taken_again_without_new_page_faults():
    default, kept = probe("default"), probe("keep")
    assert kept["kept"] is True
    assert kept["pool"] == "system"  # Arrow allocates through the same malloc
    # By default a block that large is mapped and unmapped each time: touching
    # it again faults every page (or huge page) in afresh. Kept, it is reused.
    assert default["faults"] >= 64
    assert kept["faults"] < default["faults"] // 4


# The same from a worker thread, in blocks under glibc's 64 MiB heap size: by
# default a thread allocates from an arena of its own, whose heaps glibc unmaps.
THREAD_PROBE = """
import json, resource, sys, threading
import numpy as np
from prefsync_audit.memory import keep_freed_memory

if sys.argv[1] == "keep":
    keep_freed_memory()
faults = []

def work():
    blocks = [np.ones(5 << 20) for _ in range(8)]  # 8 blocks of 40 MiB
    del blocks
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [np.ones(5 << 20) for _ in range(8)]
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

thread = threading.Thread(target=work)
thread.start()
thread.join()
print(json.dumps({"faults": faults[0]}))
"""


def test_memory_freed_in_a_worker_thread_is_kept_too():
    default = probe("default", THREAD_PROBE)["faults"]
    kept = probe("keep", THREAD_PROBE)["faults"]
    assert default >= 64
    # With an arena of the thread's own, glibc unmapped a heap and faulted it in
    # again: 539 faults here, against 3,745 by default and none from one arena.
    assert kept < 64


# Where a worker thread's small block comes from: glibc's main arena lies in the
# process's "[heap]" mapping, another arena in a mapping of its own.
HEAP_PROBE = """
import ctypes, json, sys, threading
from prefsync_audit.memory import share_one_heap

shared = share_one_heap() if sys.argv[1] == "share" else None
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
addresses = []
thread = threading.Thread(target=lambda: addresses.append(libc.malloc(1000)))
thread.start()
thread.join()
with open("/proc/self/maps") as maps:
    heap = [line.split()[0] for line in maps if line.rstrip().endswith("[heap]")]
start, end = (int(bound, 16) for bound in heap[0].split("-"))
print(json.dumps({"shared": shared, "in_main_heap": start <= addresses[0] < end}))
"""


def test_share_one_heap_makes_worker_threads_use_the_main_arena():
    assert probe("default", HEAP_PROBE) == {"shared": None, "in_main_heap": False}
    assert probe("share", HEAP_PROBE) == {"shared": True, "in_main_heap": True}
    # As run sets memory up, freed memory returned: still one heap.
    returned = HEAP_PROBE.replace(
        "from prefsync_audit.memory import share_one_heap",
        "from prefsync_audit.memory import set_up_memory as share_one_heap",
    ).replace("share_one_heap()", "share_one_heap(False, 0) or True")
    assert probe("share", returned) == {"shared": True, "in_main_heap": True}


# How many arenas glibc holds (``malloc_info``) once a pool of threads has
# allocated: after importing the command line (as ``prefsync-audit`` starts),
# or after importing pyarrow first and only then asking for one arena.
ARENAS_PROBE = """
import ctypes, json, os, sys, tempfile
if sys.argv[1] == "cli":
    import prefsync_audit.cli
import pyarrow as pa
from prefsync_audit.memory import share_one_heap
from prefsync_audit._threads import ordered_map

share_one_heap()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
list(ordered_map(lambda size: libc.malloc(size), [1000] * 64, 4))
libc.fdopen.restype = ctypes.c_void_p
libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "malloc_info.xml")
    stream = libc.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    arenas = open(path).read().count("<heap nr=")
tasks = os.listdir("/proc/self/task")
threads = [open(f"/proc/self/task/{task}/comm").read().strip() for task in tasks]
print(json.dumps({"arenas": arenas, "threads": threads}))
"""


def test_the_command_line_has_one_arena_whatever_threads_pyarrow_starts():
    # Importing pyarrow starts jemalloc's background thread (where Arrow is built
    # with jemalloc); allocating before M_ARENA_MAX is set gives it an arena of
    # its own, which glibc then hands to every other new thread in turn.
    assert probe("cli", ARENAS_PROBE)["arenas"] == 1
    late = probe("late", ARENAS_PROBE)
    if "jemalloc_bg_thd" in late["threads"]:
        assert late["arenas"] == 2


SETUP_PROBE = """
import json, sys, threading
import pyarrow as pa
from prefsync_audit import memory

keep = {"auto": None, "keep": True, "return": False}[sys.argv[1].split("-")[0]]
exports_bytes = {"small": 1000, "mid": 2**30, "huge": 10**18}[sys.argv[1].split("-")[1]]
if sys.argv[1].endswith("-refused"):  # as a kernel without transparent huge pages
    memory.advise_huge_pages = lambda heap, skip=0: False
kept = memory.set_up_memory(keep, exports_bytes)
prefaulting = any(thread.name == "prefault-heap" for thread in threading.enumerate())
print(json.dumps({"kept": kept, "pool": pa.default_memory_pool().backend_name,
                  "prefaulting": prefaulting}))
"""


@pytest.mark.parametrize(
    ("mode", "kept", "prefaulting"),
    [
        # Room for it: kept by default; the heap expected (1 GiB) stays short of
        # where prefaulting starts.
        ("auto-small", True, False),
        ("auto-huge", False, False),  # no room: returned by default
        ("return-small", False, False),
        ("keep-mid", True, True),  # 1 GiB of exports: a heap of 5.5 GiB expected
        # Huge pages refused: first touches cost the host's faults all the same.
        ("keep-mid-refused", True, True),
        ("keep-huge", True, True),  # asked for: kept whatever the size
    ],
)
def test_set_up_memory_keeps_freed_memory_where_asked_or_where_it_fits(
    mode: str, kept: bool, prefaulting: bool
):
    result = probe(mode, SETUP_PROBE)
    assert result["kept"] is kept
    assert (result["pool"] == "system") is kept  # Arrow's allocator follows
    if not prefaulting or POPULATE_WRITE:
        assert result["prefaulting"] is prefaulting  # the kept heap faulted in ahead


def test_keeping_fits_only_with_room_for_the_peak_it_takes():
    gib = 2**30
    # 5M persons: 3.79 GiB of CSV, a peak of 16.1 GiB kept; 18.1 GiB needed.
    needed = 3.79 * gib * AVAILABLE_PER_EXPORT_BYTE + AVAILABLE_BESIDES
    assert 16.1 * gib < needed < 22 * gib  # fits the 23.5 GiB benchmark machine
    assert keeping_fits(3.79 * gib, needed)
    assert not keeping_fits(3.79 * gib, needed - 1)
    assert not keeping_fits(3.79 * gib, 16 * gib)  # a 16 GiB machine returns it
    assert keeping_fits(0.76 * gib, 4.5 * gib)  # 1M persons: a peak of 3.8 GiB
    assert not keeping_fits(float("inf"), 10**15)  # a database query: size unknown
    assert not keeping_fits(1000, None)  # memory unknown


def test_available_memory_reads_meminfo(tmp_path: Path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   22000000 kB\n")
    assert available_memory(meminfo) == 22000000 * 1024
    meminfo.write_text("MemTotal:       24000000 kB\n")  # kernels before 3.14
    assert available_memory(meminfo) is None
    meminfo.write_text("MemAvailable:   n/a\n")
    assert available_memory(meminfo) is None
    assert available_memory(tmp_path / "none") is None
    assert available_memory() is not None  # this machine's /proc/meminfo


# How many worker threads the process's DuckDB database has, as run sets it up.
DUCKDB_PROBE = """
import json, sys
import pyarrow as pa
from prefsync_audit._duckdb import open_database, sha256_hex_array
from prefsync_audit.memory import set_up_memory

set_up_memory(sys.argv[1] == "keep", 0)
sha256_hex_array(pa.array(["a", "b"]))  # the database the audit's queries run on
threads = open_database().execute("SELECT current_setting('threads')").fetchone()[0]
print(json.dumps({"threads": threads}))
"""


def test_duckdb_has_no_worker_threads_when_freed_memory_is_kept():
    # DuckDB's worker threads hand glibc's free memory back (malloc_trim) when they
    # run out of work: at 5M persons 93.6 s against 83.3 s without them.
    assert probe("keep", DUCKDB_PROBE) == {"threads": 1}
    assert probe("return", DUCKDB_PROBE)["threads"] >= 1  # DuckDB's default: one per core


# Reserve 64 MiB of heap once freed memory is kept and advise huge pages for all
# but its first 32 MiB; report the heap's range, which of its MiB the heap's
# mappings advise (``hg`` in smaps' VmFlags), and whether the default skip
# leaves anything of 64 MiB to advise.
HUGE_PROBE = """
import json, sys
from prefsync_audit.memory import advise_huge_pages, keep_freed_memory, reserve_heap

MIB = 1 << 20
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
heap = reserve_heap(64 * MIB) if kept else None
taken = heap is not None and advise_huge_pages(heap, skip=32 * MIB)
huge, advised_from, in_heap = set(), None, False
with open("/proc/self/smaps") as smaps:
    for line in smaps:
        if line[:1].isdigit() or line[:1] in "abcdef":
            start, end = (int(bound, 16) for bound in line.split()[0].split("-"))
            in_heap = line.rstrip().endswith("[heap]")
        elif in_heap and line.startswith("VmFlags:") and "hg" in line.split():
            huge.update(range(start // MIB, end // MIB))
if heap is not None:
    inside = set(range(heap.start // MIB, (heap.start + heap.length) // MIB))
    advised = sorted((mib - heap.start // MIB) for mib in huge & inside)
    advised_from = [advised[0], advised[-1] + 1, len(advised)] if advised else []
default_skip = heap is not None and advise_huge_pages(heap)
print(json.dumps({"length": heap and heap.length // MIB, "advised": advised_from,
                  "taken": taken, "huge": bool(huge), "default_skip": default_skip}))
"""


@pytest.mark.skipif(
    not Path("/sys/kernel/mm/transparent_hugepage/enabled").exists(),
    reason="the kernel has no transparent huge pages",
)
def test_the_kept_heap_is_advised_huge_pages_past_where_small_audits_reach():
    default, kept = probe("default", HUGE_PROBE), probe("keep", HUGE_PROBE)
    # The block's whole huge pages: 62 or 64 MiB as glibc places it. Its first
    # 32 MiB are not advised; every MiB after them is.
    assert kept["length"] in (62, 64)
    assert kept["advised"] == [32, kept["length"], kept["length"] - 32]
    assert kept["taken"] is True
    # 2 GiB skipped by default (HUGE_PAGES_FROM): nothing of 64 MiB is advised.
    assert kept["default_skip"] is False
    assert default == {
        "length": None,
        "advised": None,
        "taken": False,
        "huge": False,
        "default_skip": False,
    }


def test_huge_page_advice_covers_the_expected_peak_within_what_is_available():
    from prefsync_audit.memory import heap_reservation

    expected = int(2 * 2**30 * AVAILABLE_PER_EXPORT_BYTE + AVAILABLE_BESIDES)
    assert heap_reservation(2 * 2**30, 64 * 2**30) == expected
    assert heap_reservation(2 * 2**30, 4 * 2**30) == 4 * 2**30
    assert heap_reservation(float("inf"), 4 * 2**30) == 4 * 2**30
    assert heap_reservation(2 * 2**30, None) == 0


def _kernel_at_least(major: int, minor: int) -> bool:
    release = tuple(int(part) for part in re.findall(r"\d+", platform.release())[:2])
    return release >= (major, minor)


#: ``MADV_POPULATE_WRITE`` came with Linux 5.14.
POPULATE_WRITE = sys.platform.startswith("linux") and _kernel_at_least(5, 14)

# Keep a 256 MiB heap range faulted in 32 MiB ahead of the heap's top; report how
# much of the range is resident from its start (and beyond that, anything) before
# and after the audit takes 64 MiB, and whether the thread ends once the heap is
# trimmed.
PREFAULT_PROBE = """
import ctypes, json, sys, time
import numpy as np
from prefsync_audit.memory import keep_freed_memory, prefault_heap, reserve_heap

MIB = 1 << 20
libc = ctypes.CDLL(None)
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
keep_freed_memory()
heap = reserve_heap(256 * MIB)  # small pages: faulting in needs no huge pages
start = int(sys.argv[1]) * MIB
began = time.monotonic()
prefault = prefault_heap(heap, ahead=32 * MIB, start=start)
again = prefault_heap(heap, ahead=32 * MIB)  # one such thread a process

def settled(reached):
    deadline = time.monotonic() + 60
    while prefault.reached < reached and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the thread has nothing left to do, or has done too much
    pages = np.zeros(heap.length // 4096, dtype=np.uint8)
    assert libc.mincore(heap.start, heap.length, pages.ctypes.data) == 0
    resident = pages & 1 == 1
    prefix = len(resident) if resident.all() else int(np.argmin(resident))
    beyond = int(resident[prefix:].sum())
    return {"prefix_mib": prefix * 4096 / MIB, "beyond_mib": beyond * 4096 / MIB}

before = settled(32 * MIB if start == 0 else 0)
block = np.ones(64 * MIB // 8)  # taken from the heap's top, which rises
# The block starts where the heap's top was: up to 2 MiB before the range, which
# starts at a whole huge page.
after = settled(94 * MIB)
faulted = prefault.faulted / MIB
looks, seconds = prefault.looks, time.monotonic() - began
libc.malloc_trim(0)  # the top is handed back: the range is no longer all the heap's
prefault.thread.join(timeout=20)
prefault.watcher.join(timeout=20)
print(json.dumps({"before": before, "after": after, "faulted_mib": faulted,
                  "looks": looks, "seconds": seconds,
                  "ended": not (prefault.thread.is_alive() or prefault.watcher.is_alive()),
                  "again": again is not None}))
"""


@pytest.mark.skipif(not POPULATE_WRITE, reason="MADV_POPULATE_WRITE needs Linux 5.14")
def test_the_kept_heap_is_faulted_in_ahead_of_its_top_and_no_further():
    result = probe("0", PREFAULT_PROBE)
    ahead = 32
    # Nothing allocated yet: the range's first 32 MiB faulted in, nothing past them
    # (the heap's top may start a huge page into the range).
    assert ahead <= result["before"]["prefix_mib"] <= ahead + 2
    assert result["before"]["beyond_mib"] == 0
    # 64 MiB taken from the top (touched by numpy): 32 MiB faulted in beyond it.
    assert 64 - 2 + ahead <= result["after"]["prefix_mib"] <= 64 + ahead + 4
    assert result["after"]["beyond_mib"] == 0
    # The thread faulted in what lay ahead (32 MiB, then 32 more as the top rose
    # past them), not the 64 MiB numpy took and touched itself.
    assert 2 * ahead <= result["faulted_mib"] <= 2 * ahead + 4
    # Each look at the top takes the heap's lock: a few a second, not one a step.
    assert 1 <= result["looks"] <= result["seconds"] / PREFAULT_LOOK_EVERY + 2
    assert result["ended"]
    assert not result["again"]


@pytest.mark.skipif(not POPULATE_WRITE, reason="MADV_POPULATE_WRITE needs Linux 5.14")
def test_the_kept_heap_is_faulted_in_only_once_its_top_is_far_enough_in():
    # To start 48 MiB in: nothing faulted in while the top is near the range's
    # start, then 32 MiB ahead of it once 64 MiB are taken.
    result = probe("48", PREFAULT_PROBE)
    assert result["before"]["prefix_mib"] <= 2
    assert result["before"]["beyond_mib"] == 0
    assert 64 - 2 + 32 <= result["after"]["prefix_mib"] <= 64 + 32 + 4
    assert result["after"]["beyond_mib"] == 0
    assert 32 <= result["faulted_mib"] <= 32 + 4
