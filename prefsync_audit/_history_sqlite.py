"""The SQLite history store (standard library ``sqlite3``).

Several audits may share one history file and run at the same time (cron jobs
overlapping, parallel CI jobs on a shared disk). So:

- WAL journal: readers never block the writer, and the writer never blocks readers;
- a busy timeout: a second writer waits for the first instead of failing;
- each run is recorded in one ``BEGIN IMMEDIATE`` transaction that reads the
  previous run and inserts the new one, so two writers are serialized and
  each compares itself with a run that is really the one before it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from prefsync_audit.history import (
    HEADLINE_METRICS,
    FindingRef,
    HistoryError,
    RunRecord,
    StoredRun,
    compare_findings,
    runs_query,
)

SCHEMA_VERSION = 1
#: How long a writer waits for another one before giving up.
BUSY_TIMEOUT_SECONDS = 60

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    audit TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    as_of TEXT NOT NULL,
    status TEXT NOT NULL,
    config_sha256 TEXT,
    tool_version TEXT NOT NULL,
    persons INTEGER NOT NULL,
    findings_total INTEGER NOT NULL,
    {", ".join(f"{name} REAL" for name in HEADLINE_METRICS)},
    new INTEGER,
    persisting INTEGER,
    resolved INTEGER,
    summary_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_audit ON runs (audit, run_id);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    system TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (run_id, finding_id)
) WITHOUT ROWID;
"""

_RUN_COLUMNS = (
    "run_id, audit, recorded_at, as_of, status, config_sha256, tool_version, persons, "
    f"findings_total, {', '.join(HEADLINE_METRICS)}, new, persisting, resolved"
)


class SQLiteHistory:
    """A history in one SQLite file, created (owner-only) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                # Finding ids are hashes that include a person's identifier:
                # pseudonymous data, so the file is owner-only. SQLite gives its
                # -wal and -shm files the same mode.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            self._db.execute("PRAGMA foreign_keys = ON")
            _retry_while_locked(self._use_wal)
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(f"{path}: cannot open the history: {exc}") from None

    def _use_wal(self) -> None:
        if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._db.execute("PRAGMA journal_mode = WAL")

    def _migrate(self) -> None:
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"{self.path}: written by a newer prefsync-audit (schema {version})"
                )
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def record(self, run: RunRecord) -> tuple[int, StoredRun | None, list[FindingRef]]:
        try:
            with self._transaction():
                row = self._db.execute(
                    f"SELECT {_RUN_COLUMNS} FROM runs WHERE audit = ? ORDER BY run_id DESC LIMIT 1",
                    (run.audit,),
                ).fetchone()
                previous = _stored(row) if row else None
                before = self._findings(previous.run_id) if previous else []
                new, persisting, resolved = compare_findings(
                    before if previous else None, run.findings
                )
                counts = (len(new), len(persisting), len(resolved))
                cursor = self._db.execute(
                    f"INSERT INTO runs (audit, recorded_at, as_of, status, config_sha256, "
                    f"tool_version, persons, findings_total, {', '.join(HEADLINE_METRICS)}, "
                    f"new, persisting, resolved, summary_json) "
                    f"VALUES ({', '.join('?' * (12 + len(HEADLINE_METRICS)))})",
                    (
                        run.audit,
                        run.recorded_at,
                        run.as_of,
                        run.status,
                        run.config_sha256,
                        run.tool_version,
                        run.persons,
                        run.findings_total,
                        *(run.headline.get(name) for name in HEADLINE_METRICS),
                        *counts,
                        json.dumps(run.summary, sort_keys=True),
                    ),
                )
                run_id = int(cursor.lastrowid or 0)
                self._db.executemany(
                    "INSERT OR IGNORE INTO findings VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (run_id, f.finding_id, f.kind, f.severity, f.system, f.key)
                        for f in run.findings
                    ],
                )
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot record the run: {exc}") from None
        return run_id, previous, before

    def _findings(self, run_id: int) -> list[FindingRef]:
        rows = self._db.execute(
            "SELECT finding_id, kind, severity, system, key FROM findings WHERE run_id = ? "
            "ORDER BY finding_id",
            (run_id,),
        )
        return [FindingRef(*row) for row in rows]

    def findings(self, run_id: int) -> list[FindingRef]:
        """The findings recorded for one run, sorted by id."""
        return self._findings(run_id)

    def runs(
        self, audit: str | None = None, since: str | None = None, limit: int | None = None
    ) -> list[StoredRun]:
        sql, params = runs_query(_RUN_COLUMNS, "runs", "?", audit, since, limit)
        try:
            rows = self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot read the history: {exc}") from None
        return [_stored(row) for row in reversed(rows)]

    def close(self) -> None:
        self._db.close()


def _stored(row: tuple) -> StoredRun:
    metrics = len(HEADLINE_METRICS)
    values, (new, persisting, resolved) = row[9 : 9 + metrics], row[9 + metrics :]
    return StoredRun(
        run_id=row[0],
        audit=row[1],
        recorded_at=row[2],
        as_of=row[3],
        status=row[4],
        config_sha256=row[5],
        tool_version=row[6],
        persons=row[7],
        findings_total=row[8],
        headline=dict(zip(HEADLINE_METRICS, values, strict=True)),
        new=new,
        persisting=persisting,
        resolved=resolved,
    )


def _retry_while_locked(step: Callable[[], None]) -> None:
    """Run ``step``, retrying while another connection holds the file.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers
    "database is locked" at once there instead of calling the busy handler;
    two audits opening a new history together would then fail. So the switch
    is retried for as long as the busy timeout allows.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            locked = "locked" in str(exc) or "busy" in str(exc)
            if not locked or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error.

    IMMEDIATE takes the write lock at the start, so two writers queue on the
    busy timeout instead of both reading and then one failing to upgrade.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
