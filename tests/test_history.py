"""Run history: new / persisting / resolved findings, the store, the CLI, concurrency."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsync_audit.audit import AuditResult, run_audit
from prefsync_audit.cli import app
from prefsync_audit.history import (
    FindingRef,
    HistoryError,
    HistoryView,
    RunRecord,
    compare_findings,
    open_history,
    record_run,
)
from prefsync_audit.report.html import render_html
from prefsync_audit.report.markdown import render_markdown
from prefsync_audit.report.model import ReportOptions
from prefsync_audit.report.summary import build_summary

MINI = Path(__file__).parent / "fixtures" / "mini"
ROOT = Path(__file__).parent.parent
RECORDED = datetime(2026, 3, 10, tzinfo=UTC)


def ref(finding_id: str, kind: str = "suppression_gap") -> FindingRef:
    return FindingRef(finding_id, kind, "critical", "esp", "marketing/email/*")


def test_compare_findings_by_id():
    new, persisting, resolved = compare_findings([ref("a"), ref("b")], [ref("b"), ref("c")])
    assert [f.finding_id for f in new] == ["c"]
    assert [f.finding_id for f in persisting] == ["b"]
    assert [f.finding_id for f in resolved] == ["a"]
    # No previous run: everything is new; an id repeated in a run counts once.
    new, persisting, resolved = compare_findings(None, [ref("a"), ref("a")])
    assert ([f.finding_id for f in new], persisting, resolved) == (["a"], [], [])


def kinds(refs: list[FindingRef]) -> list[tuple[str, str]]:
    return sorted((f.kind, f.system) for f in refs)


def scenario(tmp_path: Path) -> Path:
    target = tmp_path / "mini"
    shutil.copytree(MINI, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_three_runs_findings_appear_persist_and_resolve(tmp_path: Path):
    mini = scenario(tmp_path)
    config, esp, cmp = (
        mini / "audit.yaml",
        mini / "exports" / "esp.csv",
        mini / "exports" / "cmp.csv",
    )
    store = open_history(tmp_path / "history.db")

    first = record_run(store, run_audit(config), RECORDED)
    assert first.changes.previous_run_id is None
    assert len(first.changes.new) == 7 and not first.changes.resolved

    # Run 2, four days later: the ESP applied a's opt-out; c's opt-out is now
    # overdue (pending → gap); g opts out at the CMP but stays subscribed.
    edit(esp, "A@x.com ,(212) 555-0123,false", "A@x.com ,(212) 555-0123,true")
    edit(cmp, "d@x.com", "g@x.com,OPT_OUT,2026-01-15T00:00:00Z,web\nd@x.com")
    edit(esp, "e@x.com,,false", "g@x.com,,false,2025-12-01T00:00:00Z\ne@x.com,,false")
    second_result = run_audit(config, as_of=datetime(2026, 3, 5, tzinfo=UTC))
    second = record_run(store, second_result, RECORDED)
    changes = second.changes
    assert changes.previous_run_id == first.run_id
    assert changes.previous_as_of == "2026-03-01T00:00:00Z"
    assert kinds(changes.new) == [("suppression_gap", "esp"), ("suppression_gap", "esp")]
    assert kinds(changes.resolved) == [("pending_sync", "esp"), ("suppression_gap", "esp")]
    assert kinds(changes.persisting) == [
        ("missing_preference", "esp"),
        ("over_suppression", "esp"),
        ("suppression_gap", "ads"),
        ("unconfirmed_grant", "esp"),
        ("unmapped_value", "cmp"),
    ]

    # Run 3: the ESP applies c's opt-out too.
    edit(esp, "c@x.com,,false,2025-12-01", "c@x.com,,true,2026-03-02")
    third = record_run(store, run_audit(config, as_of=datetime(2026, 3, 5, tzinfo=UTC)), RECORDED)
    assert third.changes.previous_run_id == second.run_id
    assert third.changes.new == []
    assert kinds(third.changes.resolved) == [("suppression_gap", "esp")]
    assert ("suppression_gap", "ads") in kinds(third.changes.persisting)
    assert [r.run_id for r in third.trend] == [first.run_id, second.run_id, third.run_id]
    assert [(r.new, r.persisting, r.resolved) for r in store.runs()] == [
        (7, 0, 0),
        (2, 5, 2),
        (0, 6, 1),
    ]
    store.close()

    # The reports say it: summary.json, Markdown, the HTML trend.
    summary = build_summary(second_result, second)["history"]
    assert (summary["new"], summary["persisting"], summary["resolved"]) == (2, 5, 2)
    assert summary["previous_run_id"] == first.run_id
    assert summary["new_finding_ids"] == sorted(f.finding_id for f in changes.new)
    options = ReportOptions(history=second)
    assert "**2 new**, 5 persisting, 2 resolved" in render_markdown(second_result, options)
    html = render_html(second_result, options)
    assert 'id="trend"' in html and "<polyline" in html
    assert f"Resolved since run #{first.run_id}" in html
    assert '<span class="tag new">new</span>' in html


def test_runs_filter_and_the_file_is_owner_only(mini_result: AuditResult, tmp_path: Path):
    path = tmp_path / "h.db"
    store = open_history(path)
    record_run(store, mini_result, RECORDED)
    record_run(store, mini_result, RECORDED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [r.run_id for r in store.runs(limit=1)] == [2]
    assert store.runs(since="2026-03-01T00:00:01Z") == []
    assert len(store.runs(audit="audit.yaml")) == 2
    assert store.runs(audit="other") == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_history_errors_are_audit_errors(tmp_path: Path):
    # An unreachable server is a one-line error with the password masked.
    with pytest.raises(
        HistoryError, match=r"^postgresql://user:\*\*\*@127\.0\.0\.1:1/audits: cannot open"
    ):
        open_history("postgresql://user:secret@127.0.0.1:1/audits")
    with pytest.raises(HistoryError, match="no history here"):
        open_history(tmp_path / "missing.db", create=False)
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(HistoryError, match="newer prefsync-audit"):
        open_history(newer)
    (tmp_path / "junk.db").write_text("not a database" * 100)
    with pytest.raises(HistoryError, match=r"junk\.db"):
        open_history(tmp_path / "junk.db")


def test_history_command_lists_runs(mini_result: AuditResult, tmp_path: Path):
    path = tmp_path / "h.db"
    store = open_history(path)
    record_run(store, mini_result, RECORDED)
    store.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["history", str(path), "--json"])
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert [(r["run_id"], r["status"], r["findings_total"], r["new"]) for r in runs] == [
        (1, "warn", 7, 7)
    ]
    assert runs[0]["suppression_gaps"] == 2
    later = runner.invoke(app, ["history", str(path), "--json", "--since", "2026-03-02"])
    assert json.loads(later.stdout) == []
    table = runner.invoke(app, ["history", str(path)])
    assert "1 run(s)" in table.stdout and "warn" in table.stdout


def test_missing_history_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    from prefsync_audit.cli import main

    monkeypatch.setattr(sys, "argv", ["prefsync-audit", "history", str(tmp_path / "nope.db")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "no history here" in error
    assert error.count("\n") == 1


def test_two_audits_recording_at_once_are_both_kept(tmp_path: Path):
    mini = scenario(tmp_path)
    path = tmp_path / "h.db"
    # Two audits recording into one history at the same time: both kept whole.
    command = [sys.executable, "-m", "prefsync_audit", "run", str(mini / "audit.yaml")]
    runs = [
        subprocess.Popen(
            [*command, "--history", str(path), "--format", "json"], stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in runs]
    assert [p.returncode for p in runs] == [0, 0]
    assert sorted(o["history"]["run_id"] for o in outputs) == [1, 2]
    second = next(o for o in outputs if o["history"]["run_id"] == 2)["history"]
    assert (second["previous_run_id"], second["new"], second["persisting"]) == (1, 0, 7)
    store = open_history(path)
    assert [len(store.findings(r.run_id)) for r in store.runs()] == [7, 7]
    store.close()


WRITER = """
import sys, time
from pathlib import Path
from prefsync_audit.history import FindingRef, RunRecord, open_history

path, tag, runs, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
while time.time() < start:
    time.sleep(0.005)
store = open_history(Path(path))
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


def test_concurrent_writers_are_serialized_and_complete(tmp_path: Path):
    path, runs = tmp_path / "shared.db", 8
    start = time.time() + 1.5  # both processes start writing at the same moment
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), tag, str(runs), str(start)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for tag in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    store = open_history(path)
    stored = store.runs()
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


OPENER = """
import sys, time
from pathlib import Path
from prefsync_audit.history import open_history
folder, start = Path(sys.argv[1]), float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
for i in range(25):
    open_history(folder / f"h{i}.db").close()
"""


def test_new_history_opened_by_several_audits_at_once(tmp_path: Path):
    # The first opening switches the file to WAL, which needs the file to itself;
    # SQLite answers "locked" at once there, so the opening must retry, not fail.
    start = time.time() + 1.5
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(tmp_path), str(start)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(o.wait(timeout=120), o.stderr.read()) for o in openers]
    assert results == [(0, "")] * 4
    for i in range(25):
        with sqlite3.connect(tmp_path / f"h{i}.db") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_history_view_line():
    view = HistoryView(
        run_id=3,
        changes=compare_findings_view(),
        trend=[],
    )
    assert view.line() == (
        "History: run #3; since run #2 (as of 2026-03-01T00:00:00Z): 1 new, 1 persisting, "
        "1 resolved"
    )


def compare_findings_view():
    from prefsync_audit.history import FindingChanges

    new, persisting, resolved = compare_findings([ref("a"), ref("b")], [ref("b"), ref("c")])
    return FindingChanges(2, "2026-03-01T00:00:00Z", new, persisting, resolved)


def test_run_record_keeps_no_identifiers(mini_result: AuditResult):
    from prefsync_audit.history import run_record

    record: RunRecord = run_record(mini_result, RECORDED)
    text = json.dumps([record.summary, [f.__dict__ for f in record.findings]])
    assert "@x.com" not in text and "x.com" not in text
    assert record.audit == "audit.yaml"
    assert record.headline["suppression_gaps"] == 2


@pytest.fixture(scope="module")
def mini_result() -> AuditResult:
    return run_audit(MINI / "audit.yaml")
