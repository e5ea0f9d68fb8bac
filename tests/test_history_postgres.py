"""The shared PostgreSQL history: same behaviour as SQLite, and concurrent writers.

Runs against the real server (``tests/sources/_servers.py``: skipped where none
is reachable, a failure under ``PREFSYNC_REQUIRE_DATABASES=1``). Each test
module works in its own schema, chosen with ``search_path`` in the URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prefsync_audit.audit import run_audit
from prefsync_audit.history import HistoryError, open_history, record_run
from tests.sources._servers import POSTGRES_URL, engine, need_modules, unique_name
from tests.test_history import MINI

ROOT = Path(__file__).parent.parent
RECORDED = datetime(2026, 3, 10, tzinfo=UTC)

#: One writer process: ``runs`` runs of the audit "shared", 2000 findings each
#: (500 shared by every run, 1500 cycling through three sets of the writer's own).
WRITER = """
import sys, time
from pathlib import Path
from prefsync_audit.history import FindingRef, RunRecord, open_history

url, tag, runs, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = open_history(url)
# A barrier: both writers are connected before either writes.
(ready / tag).touch()
while len(list(ready.iterdir())) < 2:
    time.sleep(0.001)
for i in range(runs):
    ids = [f"{tag}{i % 3}-{n:05d}" for n in range(1500)] + [f"shared-{n:05d}" for n in range(500)]
    findings = [FindingRef(x, "suppression_gap", "critical", "esp", "m/e/*") for x in ids]
    store.record(RunRecord(
        audit="shared", recorded_at=f"{tag}{i}", as_of="2026-03-01T00:00:00Z", status="fail",
        config_sha256=None, tool_version="t", persons=1, findings_total=len(findings),
        headline={}, summary={"writer": tag, "i": i}, findings=findings,
    ))
store.close()
"""


@pytest.fixture(scope="module")
def history_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    need_modules("psycopg")
    pg = engine(POSTGRES_URL)
    schema = unique_name("prefsync_hist")
    with pg.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with pg.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


def test_record_compare_and_list(history_url: str):
    result = run_audit(MINI / "audit.yaml")
    store = open_history(history_url)
    first = record_run(store, result, RECORDED)
    second = record_run(store, result, RECORDED)
    assert first.changes.previous_run_id is None and len(first.changes.new) == 7
    assert second.changes.previous_run_id == first.run_id
    assert second.changes.counts() == {"new": 0, "persisting": 7, "resolved": 0}
    assert [r.run_id for r in second.trend] == [first.run_id, second.run_id]
    runs = store.runs(audit="audit.yaml")
    assert [(r.new, r.persisting, r.resolved) for r in runs] == [(7, 0, 0), (0, 7, 0)]
    assert runs[0].headline["suppression_gaps"] == 2
    assert [r.run_id for r in store.runs(limit=1)] == [second.run_id]
    assert store.runs(since="2026-03-01T00:00:01Z") == []
    assert len(store.findings(first.run_id)) == 7
    store.close()
    # Reopening finds the tables; create=False works once they exist.
    again = open_history(history_url, create=False)
    assert len(again.runs()) == 2
    again.close()


def test_errors(history_url: str, monkeypatch: pytest.MonkeyPatch):
    missing = POSTGRES_URL + "?options=-csearch_path%3Dprefsync_no_such_schema"
    with pytest.raises(HistoryError, match="no history here"):
        open_history(missing, create=False)
    monkeypatch.setenv("PREFSYNC_TEST_PG_PASSWORD", "hist-secret")
    with pytest.raises(HistoryError) as error:
        open_history("postgresql://nobody:${PREFSYNC_TEST_PG_PASSWORD}@127.0.0.1:1/test")
    assert "hist-secret" not in str(error.value)
    assert str(error.value).startswith("postgresql://nobody:***@127.0.0.1:1/test: cannot open")
    monkeypatch.delenv("PREFSYNC_NO_SUCH_VARIABLE", raising=False)
    with pytest.raises(HistoryError, match="PREFSYNC_NO_SUCH_VARIABLE is not set"):
        open_history("postgresql://x:${PREFSYNC_NO_SUCH_VARIABLE}@h/db")


def test_two_processes_recording_at_once_are_serialized(history_url: str, tmp_path: Path):
    runs = 8
    ready = tmp_path / "ready"
    ready.mkdir()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, history_url, tag, str(runs), str(ready)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for tag in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    store = open_history(history_url)
    stored = store.runs(audit="shared")
    assert len(stored) == 2 * runs
    assert sorted(r.recorded_at for r in stored) == sorted(
        f"{tag}{i}" for tag in "ab" for i in range(runs)
    )
    previous: set[str] = set()
    for run in stored:
        ids = {f.finding_id for f in store.findings(run.run_id)}
        assert len(ids) == run.findings_total == 2000
        # Each run was compared with the run really recorded before it.
        assert (run.new, run.persisting, run.resolved) == (
            len(ids - previous),
            len(ids & previous),
            len(previous - ids),
        )
        previous = ids
    store.close()


def test_cli_run_and_history_with_a_postgresql_url(history_url: str):
    command = [sys.executable, "-m", "prefsync_audit"]
    audit = [
        *command,
        "run",
        str(MINI / "audit.yaml"),
        "--history",
        history_url,
        "--format",
        "json",
    ]
    outputs = [subprocess.run(audit, capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert [o.returncode for o in outputs] == [0, 0], outputs[0].stderr
    second = json.loads(outputs[1].stdout)["history"]
    assert second["persisting"] == 7 and second["new"] == 0
    listed = subprocess.run(
        [*command, "history", history_url, "--json", "--audit", "audit.yaml"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)][-1] == second["run_id"]
