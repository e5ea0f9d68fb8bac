"""Run history: every run's headline metrics and finding ids, and what changed since.

Callers talk to a :class:`HistoryStore` (opened with :func:`open_history`) and
never to a database directly, so a shared PostgreSQL history (issue 9) only
needs a second store class. The logic that does not depend on storage — which
findings are new, persisting or resolved, the trend of the headline metrics —
lives here, once.

The SQLite store is in :mod:`prefsync_audit._history_sqlite`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from prefsync_audit.errors import AuditError

if TYPE_CHECKING:
    from prefsync_audit.audit import AuditResult

#: Runs drawn in the trend of the HTML report (the latest ones).
TREND_RUNS = 30

#: Headline metrics kept as columns (and drawn in the trend), from ``metrics.overall``.
HEADLINE_METRICS = (
    "suppression_gaps",
    "mismatch_rate",
    "coverage",
    "audit_readiness",
    "sync_latency_p95",
)

Change = Literal["new", "persisting", "resolved"]
KEY_PARTS = ["purpose", "channel", "scope"]


def runs_query(
    columns: str,
    table: str,
    placeholder: str,
    audit: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The SQL (newest run first) and parameters that list runs, for any store;
    ``placeholder`` is the driver's parameter marker (``?`` or ``%s``)."""
    where, params = [], []
    if audit is not None:
        where.append(f"audit = {placeholder}")
        params.append(audit)
    if since is not None:
        where.append(f"as_of >= {placeholder}")
        params.append(since)
    sql = f"SELECT {columns} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY run_id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params


class HistoryError(AuditError):
    """The history cannot be opened, read or written (exit code 2)."""


@dataclass(frozen=True)
class FindingRef:
    """What the history keeps of one finding: no identifiers, only what it was about."""

    finding_id: str
    kind: str
    severity: str
    system: str
    key: str
    """``purpose/channel/scope``, or empty for findings about a person or a value."""


@dataclass(frozen=True)
class RunRecord:
    """One run as it is stored."""

    audit: str
    """Which audit this is (the config's ``name``, else its file name): runs are
    compared only with earlier runs of the same audit."""
    recorded_at: str
    """Wall-clock time the run was recorded (UTC ISO); kept out of every report."""
    as_of: str
    status: str
    config_sha256: str | None
    tool_version: str
    persons: int
    findings_total: int
    headline: dict[str, float | None]
    """The :data:`HEADLINE_METRICS`."""
    summary: dict[str, Any]
    """``metrics.overall``, ``findings_by_kind`` and ``decided_by`` of the summary."""
    findings: list[FindingRef] = field(default_factory=list)


@dataclass(frozen=True)
class StoredRun:
    """A run read back from the history (without its findings)."""

    run_id: int
    audit: str
    recorded_at: str
    as_of: str
    status: str
    config_sha256: str | None
    tool_version: str
    persons: int
    findings_total: int
    headline: dict[str, float | None]
    new: int
    """Findings new since the previous run of the audit (all of them in its first run)."""
    persisting: int
    resolved: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("headline"))
        return data


class HistoryStore(Protocol):
    """Where runs are kept. Implementations must make :meth:`record` atomic:
    two audits recording at once are both kept whole, each compared with the
    run that was latest when it was recorded."""

    def record(self, run: RunRecord) -> tuple[int, StoredRun | None, list[FindingRef]]:
        """Store ``run``; return its id, the previous run of the same audit and
        that run's findings (read in the same transaction)."""
        ...

    def runs(
        self, audit: str | None = None, since: str | None = None, limit: int | None = None
    ) -> list[StoredRun]:
        """Runs in the order they were recorded, optionally of one audit and with
        ``as_of >= since`` (UTC ISO text); ``limit`` keeps the latest ones."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FindingChanges:
    """Findings of this run against the previous run of the same audit."""

    previous_run_id: int | None
    previous_as_of: str | None
    new: list[FindingRef]
    persisting: list[FindingRef]
    resolved: list[FindingRef]

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "persisting": len(self.persisting),
            "resolved": len(self.resolved),
        }


@dataclass(frozen=True)
class HistoryView:
    """What the reports show of the history after this run was recorded."""

    run_id: int
    changes: FindingChanges
    trend: list[StoredRun]
    """Runs of this audit up to and including this one, oldest first."""

    def to_summary(self) -> dict[str, Any]:
        """The ``history`` block of ``summary.json`` (no wall-clock times)."""
        changes = self.changes
        return {
            "run_id": self.run_id,
            "previous_run_id": changes.previous_run_id,
            "previous_as_of": changes.previous_as_of,
            **changes.counts(),
            "new_finding_ids": sorted({f.finding_id for f in changes.new}),
            "resolved_finding_ids": sorted({f.finding_id for f in changes.resolved}),
        }

    def line(self) -> str:
        """One line for the terminal."""
        changes = self.changes
        if changes.previous_run_id is None:
            return f"History: run #{self.run_id}, the first of this audit"
        counts = changes.counts()
        return (
            f"History: run #{self.run_id}; since run #{changes.previous_run_id} "
            f"(as of {changes.previous_as_of}): {counts['new']} new, "
            f"{counts['persisting']} persisting, {counts['resolved']} resolved"
        )


def compare_findings(
    previous: list[FindingRef] | None, current: list[FindingRef]
) -> tuple[list[FindingRef], list[FindingRef], list[FindingRef]]:
    """(new, persisting, resolved) by ``finding_id``, each sorted by id.

    With no previous run every finding is new. A finding id repeated within a
    run counts once.
    """
    now = {f.finding_id: f for f in current}
    before = {f.finding_id: f for f in previous or []}
    new = [now[i] for i in sorted(now.keys() - before.keys())]
    persisting = [now[i] for i in sorted(now.keys() & before.keys())]
    resolved = [before[i] for i in sorted(before.keys() - now.keys())]
    return new, persisting, resolved


def audit_name(result: AuditResult) -> str:
    config = result.config
    if config.name:
        return config.name
    return config.source.name if config.source else "audit"


def run_record(result: AuditResult, recorded_at: datetime) -> RunRecord:
    """What the history keeps of ``result``."""
    from prefsync_audit.report.summary import build_summary, iso

    summary = build_summary(result)
    overall = summary["metrics"]["overall"]
    headline = {name: overall.get(name) for name in HEADLINE_METRICS if name in overall}
    headline["sync_latency_p95"] = overall["sync_latency"]["p95"]
    columns = result.findings[["finding_id", "kind", "severity", "system", *KEY_PARTS]]
    findings = [
        FindingRef(
            finding_id=row[0],
            kind=row[1],
            severity=row[2],
            system=_text(row[3]),
            key="/".join(_text(p) for p in row[4:]) if isinstance(row[4], str) else "",
        )
        for row in columns.itertuples(index=False, name=None)
    ]
    return RunRecord(
        audit=audit_name(result),
        recorded_at=iso(recorded_at) or "",
        as_of=summary["as_of"],
        status=summary["status"],
        config_sha256=summary["config_sha256"],
        tool_version=summary["tool_version"],
        persons=summary["persons"],
        findings_total=summary["findings"],
        headline=headline,
        summary={
            "overall": overall,
            "findings_by_kind": summary["findings_by_kind"],
            "decided_by": summary["decided_by"],
        },
        findings=findings,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def record_run(store: HistoryStore, result: AuditResult, recorded_at: datetime) -> HistoryView:
    """Record ``result`` and return what changed since the previous run, and the trend."""
    run = run_record(result, recorded_at)
    run_id, previous, previous_findings = store.record(run)
    new, persisting, resolved = compare_findings(
        previous_findings if previous else None, run.findings
    )
    changes = FindingChanges(
        previous_run_id=previous.run_id if previous else None,
        previous_as_of=previous.as_of if previous else None,
        new=new,
        persisting=persisting,
        resolved=resolved,
    )
    trend = [r for r in store.runs(audit=run.audit) if r.run_id <= run_id][-TREND_RUNS:]
    return HistoryView(run_id=run_id, changes=changes, trend=trend)


def open_history(location: str | Path, create: bool = True) -> HistoryStore:
    """Open the history at ``location``: a SQLite file path, or a ``postgresql://`` URL
    (``${ENV}`` references expanded) for a history several runners share.

    With ``create=False`` a missing file is an error instead of a new history.
    """
    text = str(location)
    if text.startswith(("postgres://", "postgresql://", "postgresql+")):
        from prefsync_audit._history_postgres import PostgresHistory

        return PostgresHistory(text, create=create)
    from prefsync_audit._history_sqlite import SQLiteHistory

    path = Path(location)
    if not create and not path.is_file():
        raise HistoryError(f"{path}: no history here (run with --history {path} first)")
    return SQLiteHistory(path)
