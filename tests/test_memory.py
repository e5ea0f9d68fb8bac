"""prefsync_audit.memory: keeping freed memory in the process (each case in a
process of its own: the setting is the whole process's)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
