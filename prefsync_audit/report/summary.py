"""The run summary as data: what ``summary.json`` holds, field by field.

Built once from an :class:`AuditResult`; every renderer reads this (or the
findings table) and nothing else. No wall-clock time goes in, so the same
inputs and ``--as-of`` give byte-identical output.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from prefsync_audit._model import key_text
from prefsync_audit.audit import AuditResult
from prefsync_audit.mask import mask_value
from prefsync_audit.thresholds import deciding_thresholds

if TYPE_CHECKING:
    from prefsync_audit.history import HistoryView

SCHEMA_VERSION = 1


#: How the summary, the findings files and remediation files write a time (UTC).
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(value: datetime | pd.Timestamp | None) -> str | None:
    """UTC ISO 8601 with a ``Z``; None stays None."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").strftime(ISO_FORMAT)


def iso_texts(column: pd.Series) -> list[str | None]:
    """``iso`` of every value of a column: formatted by pandas in one pass when
    the column holds timestamps with a time zone (a findings file at millions of
    persons holds hundreds of thousands), else value by value."""
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        return [iso(value) for value in column]
    texts = column.dt.tz_convert("UTC").dt.strftime(ISO_FORMAT).astype(object)
    return texts.where(texts.notna(), None).tolist()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def build_summary(result: AuditResult, history: HistoryView | None = None) -> dict[str, Any]:
    """The JSON-ready summary of a run (documented in docs/output.md).

    ``history``: the run as recorded with ``--history``; its changes since the
    previous run go under ``history`` (null without a history).
    """
    config = result.config
    canonical = result.canonical
    quarantine = canonical.quarantine
    by_reason = quarantine.groupby(["system", "reason"], sort=True).size().reset_index(name="rows")
    unmapped = canonical.unmapped
    unmapped_counts = (
        unmapped.groupby(["system", "source_column", "raw_value"], sort=True)
        .size()
        .reset_index(name="rows")
        .rename(columns={"source_column": "column", "raw_value": "value"})
    )
    ignored = result.resolution.ignored_values.copy()
    ignored["value"] = [
        mask_value(k, v) for k, v in zip(ignored["kind"], ignored["value"], strict=True)
    ]
    findings = result.findings
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": result.tool_version,
        "name": config.name,
        "as_of": iso(result.as_of),
        "config_sha256": config.sha256,
        "status": result.status.value,
        "decided_by": [t.to_dict() for t in deciding_thresholds(result.thresholds)],
        "policy": {
            "latency_sla_seconds": config.policy.latency_sla.total_seconds(),
            "regrant_requires_evidence": config.policy.regrant_requires_evidence,
            "sync_window_seconds": config.policy.sync_window.total_seconds(),
            "authorities": [
                {"key": key_text(a.key), "system": a.system} for a in config.policy.authorities
            ],
            "must_hold": {
                name: [key_text(k) for k in s.must_hold]
                for name, s in config.systems.items()
                if s.must_hold
            },
        },
        "systems": list(config.systems),
        "inputs": _records(canonical.inputs),
        "databases": _databases(result),
        "quarantine": {"rows": len(quarantine), "by_reason": _records(by_reason)},
        "unmapped_values": {"rows": len(unmapped), "by_value": _records(unmapped_counts)},
        "invalid_identifiers": _records(canonical.invalid_identifiers),
        "persons": result.identity["persons"],
        "identity": {
            **result.identity,
            "ignored": _records(ignored),
            "hashed_unmatched": _records(result.resolution.hashed_unmatched),
        },
        "metrics": result.metrics,
        "findings": len(findings),
        "findings_by_kind": result.findings_by_kind,
        "findings_by_severity": {
            severity: int(count)
            for severity, count in sorted(findings["severity"].value_counts().items())
        },
        "thresholds": [t.to_dict() for t in result.thresholds],
        "history": history.to_summary() if history is not None else None,
    }


def _databases(result: AuditResult) -> list[dict[str, Any]]:
    """Provenance of the systems read from a database, one entry per system: the URL
    (password masked), the table or query, the query's SHA-256 and the rows read.
    Their ``inputs`` entries name the source ``<url>#<table or query>`` and carry the
    query's SHA-256 in place of a file hash."""
    from prefsync_audit.sources import describe_database

    config = result.config
    rows = result.canonical.inputs.groupby("system", sort=False)["rows_read"].sum()
    entries = []
    for name, settings in config.systems.items():
        if settings.database is None:
            continue
        source = describe_database(name, settings.database, config.mapping_of(name))
        entries.append(
            {
                "system": name,
                "url": source.url,
                "table": source.table,
                "query": source.query,
                "query_sha256": source.query_sha256,
                "rows_read": int(rows.get(name, 0)),
            }
        )
    return entries


def render_json(result: AuditResult, history: HistoryView | None = None) -> str:
    summary = build_summary(result, history)
    return json.dumps(summary, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
