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


def probe(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120
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
