"""The PostgreSQL history store (psycopg 3), shared by several CI runners.

``--history postgresql://user:${PG_PASSWORD}@host/db`` keeps runs in two
tables, ``prefsync_runs`` and ``prefsync_findings``, of the connection's
current schema (set ``options=-csearch_path%3Dname`` in the URL for another
one), with their schema version in ``prefsync_meta``.

Several processes may record at once:

- the tables are created (or upgraded) under a transaction-scoped advisory
  lock, so two first runs do not race on ``CREATE TABLE``;
- each run is recorded in one transaction that first takes an advisory lock
  keyed by the audit's name, then reads the previous run of that audit and
  inserts the new one: writers of one audit are serialized, and each compares
  itself with the run really recorded before it; other audits go on in
  parallel.

The URL's password is never shown: messages name the URL masked and driver
messages are scrubbed (:mod:`prefsync_audit.sources`).
"""

from __future__ import annotations

import json
from typing import Any

from prefsync_audit.history import (
    HEADLINE_METRICS,
    FindingRef,
    HistoryError,
    RunRecord,
    StoredRun,
    compare_findings,
    runs_query,
)
from prefsync_audit.sources import DatabaseURL, parse_url

SCHEMA_VERSION = 1
#: First key of every advisory lock this store takes (``'pfsa'`` as an integer).
LOCK_SPACE = 0x70667361
#: Second key of the lock held while creating the tables.
SCHEMA_LOCK = 0

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS prefsync_meta (key text PRIMARY KEY, value text NOT NULL)",
    f"""CREATE TABLE IF NOT EXISTS prefsync_runs (
        run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        audit text NOT NULL,
        recorded_at text NOT NULL,
        as_of text NOT NULL,
        status text NOT NULL,
        config_sha256 text,
        tool_version text NOT NULL,
        persons integer NOT NULL,
        findings_total integer NOT NULL,
        {", ".join(f"{name} double precision" for name in HEADLINE_METRICS)},
        new integer,
        persisting integer,
        resolved integer,
        summary_json jsonb NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS prefsync_runs_by_audit ON prefsync_runs (audit, run_id)",
    """CREATE TABLE IF NOT EXISTS prefsync_findings (
        run_id bigint NOT NULL REFERENCES prefsync_runs (run_id) ON DELETE CASCADE,
        finding_id text NOT NULL,
        kind text NOT NULL,
        severity text NOT NULL,
        system text NOT NULL,
        key text NOT NULL,
        PRIMARY KEY (run_id, finding_id)
    )""",
]

_RUN_COLUMNS = (
    "run_id, audit, recorded_at, as_of, status, config_sha256, tool_version, persons, "
    f"findings_total, {', '.join(HEADLINE_METRICS)}, new, persisting, resolved"
)


class PostgresHistory:
    """A history in a PostgreSQL database; the tables are created on first use."""

    def __init__(self, location: str, create: bool = True) -> None:
        try:
            import psycopg
        except ImportError:
            raise HistoryError(
                "a PostgreSQL history needs psycopg (pip install 'prefsync-audit[postgres]')"
            ) from None
        self._errors = (psycopg.Error,)
        try:
            self.url: DatabaseURL = parse_url(location, "--history")
        except Exception as exc:  # InputError: a missing environment variable
            raise HistoryError(str(exc)) from None
        self.path = self.url.masked
        conninfo = "postgresql://" + self.url.rest
        try:
            self._db: Any = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise HistoryError(
                f"{self.path}: cannot open the history: {self._scrub(exc)}"
            ) from None
        try:
            self._migrate(create)
        except psycopg.Error as exc:
            self._db.close()
            raise HistoryError(
                f"{self.path}: cannot open the history: {self._scrub(exc)}"
            ) from None
        except HistoryError:
            self._db.close()
            raise

    def _scrub(self, exc: BaseException) -> str:
        return self.url.scrub(exc)

    def _migrate(self, create: bool) -> None:
        with self._db.transaction(), self._db.cursor() as cur:
            cur.execute("SELECT to_regclass('prefsync_meta') IS NOT NULL")
            exists = cur.fetchone()[0]
            if not exists and not create:
                raise HistoryError(
                    f"{self.path}: no history here (run with --history {self.path} first)"
                )
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, SCHEMA_LOCK))
            for statement in _SCHEMA:
                cur.execute(statement)
            cur.execute("SELECT value FROM prefsync_meta WHERE key = 'schema_version'")
            row = cur.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"{self.path}: written by a newer prefsync-audit (schema {version})"
                )
            if version < SCHEMA_VERSION:
                cur.execute(
                    "INSERT INTO prefsync_meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (str(SCHEMA_VERSION),),
                )

    def record(self, run: RunRecord) -> tuple[int, StoredRun | None, list[FindingRef]]:
        unique: dict[str, FindingRef] = {}
        for finding in run.findings:
            unique.setdefault(finding.finding_id, finding)  # a repeated id counts once
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                # Writers of one audit queue here until the one before commits.
                cur.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_SPACE, run.audit)
                )
                cur.execute(
                    f"SELECT {_RUN_COLUMNS} FROM prefsync_runs WHERE audit = %s "
                    "ORDER BY run_id DESC LIMIT 1",
                    (run.audit,),
                )
                row = cur.fetchone()
                previous = _stored(row) if row else None
                before = self._findings(cur, previous.run_id) if previous else []
                new, persisting, resolved = compare_findings(
                    before if previous else None, run.findings
                )
                cur.execute(
                    f"INSERT INTO prefsync_runs (audit, recorded_at, as_of, status, "
                    f"config_sha256, tool_version, persons, findings_total, "
                    f"{', '.join(HEADLINE_METRICS)}, new, persisting, resolved, summary_json) "
                    f"VALUES ({', '.join(['%s'] * (12 + len(HEADLINE_METRICS)))}) "
                    "RETURNING run_id",
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
                        len(new),
                        len(persisting),
                        len(resolved),
                        json.dumps(run.summary, sort_keys=True),
                    ),
                )
                run_id = int(cur.fetchone()[0])
                with cur.copy(
                    "COPY prefsync_findings (run_id, finding_id, kind, severity, system, key) "
                    "FROM STDIN"
                ) as copy:
                    for f in unique.values():
                        copy.write_row((run_id, f.finding_id, f.kind, f.severity, f.system, f.key))
        except self._errors as exc:
            raise HistoryError(f"{self.path}: cannot record the run: {self._scrub(exc)}") from None
        return run_id, previous, before

    @staticmethod
    def _findings(cur: Any, run_id: int) -> list[FindingRef]:
        cur.execute(
            "SELECT finding_id, kind, severity, system, key FROM prefsync_findings "
            "WHERE run_id = %s ORDER BY finding_id",
            (run_id,),
        )
        return [FindingRef(*row) for row in cur.fetchall()]

    def findings(self, run_id: int) -> list[FindingRef]:
        """The findings recorded for one run, sorted by id."""
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                return self._findings(cur, run_id)
        except self._errors as exc:
            raise HistoryError(
                f"{self.path}: cannot read the history: {self._scrub(exc)}"
            ) from None

    def runs(
        self, audit: str | None = None, since: str | None = None, limit: int | None = None
    ) -> list[StoredRun]:
        sql, params = runs_query(_RUN_COLUMNS, "prefsync_runs", "%s", audit, since, limit)
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
        except self._errors as exc:
            raise HistoryError(
                f"{self.path}: cannot read the history: {self._scrub(exc)}"
            ) from None
        return [_stored(row) for row in reversed(rows)]

    def close(self) -> None:
        self._db.close()


def _stored(row: tuple) -> StoredRun:
    metrics = len(HEADLINE_METRICS)
    values, (new, persisting, resolved) = row[9 : 9 + metrics], row[9 + metrics :]
    return StoredRun(
        run_id=int(row[0]),
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
