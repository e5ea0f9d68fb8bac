"""Load: two audits at once into one history, and memory on wide and long exports.

The memory sizes here are the ones a test suite can afford; the 5M-row
measurement is ``bench/memory_limits.py`` (results in ``docs/limits.md``). Peak
RSS is read from a wrapper process with ``getrusage(RUSAGE_CHILDREN)``, so only
the measured run counts. The bounds are about twice what was measured when
they were set: they catch a regression that copies the data again, not noise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from prefsync_audit.generate import generate_scenario
from prefsync_audit.history import open_history

# --- Two runs at once --------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scenario")
    generate_scenario(folder, persons=2000, seed=1)
    return folder / "audit.yaml"


def _run(config: Path, out: Path, history: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "prefsync_audit", "run", str(config), "--output", str(out)]
    command += ["--history", str(history), "--format", "json", "--fail-on", "never"]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_two_concurrent_runs_into_one_history_agree(scenario, tmp_path):
    history = tmp_path / "audits.db"
    outs = [tmp_path / "one", tmp_path / "two"]
    running = [_run(scenario, out, history) for out in outs]
    done = [process.communicate(timeout=300) for process in running]
    for process, (_, stderr) in zip(running, done, strict=True):
        assert process.returncode == 0, stderr
    one, two = (json.loads(stdout) for stdout, _ in done)
    recorded = {one.pop("history")["run_id"], two.pop("history")["run_id"]}
    assert one == two
    assert one["metrics"]["overall"]["suppression_gaps"] > 0
    assert (outs[0] / "findings.csv").read_bytes() == (outs[1] / "findings.csv").read_bytes()
    assert pq.read_table(outs[0] / "findings.parquet").equals(
        pq.read_table(outs[1] / "findings.parquet")
    )
    assert (outs[0] / "junit.xml").read_bytes() == (outs[1] / "junit.xml").read_bytes()
    store = open_history(history, create=False)
    try:
        runs = store.runs()
    finally:
        store.close()
    assert len(recorded) == 2
    assert {run.run_id for run in runs} == recorded


# --- Memory -------------------------------------------------------------------------

WIDE_ROWS, LONG_ROWS = 50_000, 500_000
#: Peak RSS bounds (MB); measured about 720 (wide) and 615 (long) when set.
WIDE_LIMIT_MB, LONG_LIMIT_MB = 1200, 1400


@pytest.fixture(scope="module")
def peaks(tmp_path_factory, bench_script) -> dict[str, dict]:
    """Both measured runs, started together (each is one process on its own core)."""
    bench = bench_script("memory_limits")
    folder = tmp_path_factory.mktemp("memory")
    configs = {
        "wide": bench.wide_export(folder / "wide", WIDE_ROWS, columns=200),
        "long": bench.long_export(folder / "long", LONG_ROWS, distinct_times=20_000),
    }
    running = {name: bench.start(config) for name, config in configs.items()}
    return {name: bench.finish(process, timeout=600) for name, process in running.items()}


def test_memory_stays_bounded_on_a_wide_export(peaks):
    result = peaks["wide"]
    assert result["returncode"] == 0, result["stderr"]
    (entry,) = result["summary"]["inputs"]
    assert entry["rows_read"] == entry["rows_mapped"] == WIDE_ROWS
    assert result["peak_rss_mb"] < WIDE_LIMIT_MB, result["peak_rss_mb"]


def test_memory_stays_bounded_on_a_long_export(peaks):
    result = peaks["long"]
    assert result["returncode"] == 0, result["stderr"]
    (entry,) = result["summary"]["inputs"]
    assert entry["rows_read"] == entry["rows_mapped"] == LONG_ROWS
    assert result["peak_rss_mb"] < LONG_LIMIT_MB, result["peak_rss_mb"]
