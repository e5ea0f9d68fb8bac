"""Stage 6 — metrics: rates and counts per system × key and overall.

Every metric is defined in ``docs/metrics.md`` with its formula; the names
here are the names in ``summary.json``. Values are plain Python numbers
(rounded to 6 places) so the summary is byte-stable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from prefsync_audit._model import key_text
from prefsync_audit.config import AuditConfig
from prefsync_audit.policy import GROUP, KEY, authority_of_keys
from prefsync_audit.vocab import FindingKind, State

KIND_COUNTS = {
    "suppression_gaps": FindingKind.SUPPRESSION_GAP,
    "pending_syncs": FindingKind.PENDING_SYNC,
    "unverified_resubscribes": FindingKind.UNVERIFIED_RESUBSCRIBE,
    "over_suppression": FindingKind.OVER_SUPPRESSION,
    "unconfirmed_grants": FindingKind.UNCONFIRMED_GRANT,
    "missing_preferences": FindingKind.MISSING_PREFERENCE,
}


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _seconds(value: float) -> float:
    return round(float(value), 3)


def latency_summary(lags: pd.Series, sla_seconds: pd.Series | float) -> dict[str, Any]:
    """p50, p95 and max of lags (seconds) and how many exceed the SLA."""
    lags = lags.dropna()
    if lags.empty:
        return {"count": 0, "p50": None, "p95": None, "max": None, "over_sla": 0}
    over = lags > (sla_seconds[lags.index] if isinstance(sla_seconds, pd.Series) else sla_seconds)
    return {
        "count": len(lags),
        "p50": _seconds(np.percentile(lags, 50)),
        "p95": _seconds(np.percentile(lags, 95)),
        "max": _seconds(lags.max()),
        "over_sla": int(over.sum()),
    }


def _comparison_counts(rows: pd.DataFrame) -> dict[str, Any]:
    both_known = rows["actual_state"].isin([State.GRANTED, State.DENIED]) & rows[
        "expected_state"
    ].isin([State.GRANTED, State.DENIED])
    compared = rows[both_known]
    mismatches = int((compared["actual_state"] != compared["expected_state"]).sum())
    counts = {
        "persons_compared": int(compared["person_id"].nunique()) if len(compared) else 0,
        "comparisons": len(compared),
        "mismatches": mismatches,
        "mismatch_rate": _rate(mismatches, len(compared)),
    }
    for name, kind in KIND_COUNTS.items():
        counts[name] = int((rows["kind"] == kind).sum())
    counts["sync_latency"] = latency_summary(rows["lag"], rows["sla_seconds"])
    return counts


def compute_metrics(
    compared: pd.DataFrame,
    expected: pd.DataFrame,
    findings: pd.DataFrame,
    observations: pd.DataFrame,
    records: pd.DataFrame,
    person_of_record: pd.Series,
    config: AuditConfig,
    as_of: datetime,
) -> dict[str, Any]:
    """All metrics of the run as a JSON-ready dict."""
    rows = compared.copy()
    missing = findings[findings["kind"] == FindingKind.MISSING_PREFERENCE]
    rows = pd.concat(
        [rows, missing[[*GROUP, "system", "kind", "expected_state"]]], ignore_index=True
    )
    rows["system"] = rows["system"].astype("object")
    agree = (rows["actual_state"] == rows["expected_state"]) & rows["actual_state"].isin(
        [State.GRANTED, State.DENIED]
    )
    lag = (rows["system_updated_at"] - rows["deciding_at"]).dt.total_seconds().clip(lower=0)
    rows["lag"] = lag.where(agree)
    rows["sla_seconds"] = rows["system"].map(
        {s: config.latency_sla_of(s).total_seconds() for s in config.systems}
    )

    overall = _comparison_counts(rows)
    overall.update(_coverage(expected))
    overall["sync_success_rate"] = _sync_success(rows, expected, config, as_of)
    overall["audit_readiness"] = audit_readiness(observations, config)
    conflicted = findings.loc[findings["kind"] == FindingKind.IDENTITY_CONFLICT, "person_id"]
    overall["identity_conflicts"] = int(conflicted.nunique())
    overall["unmapped_values"] = int((findings["kind"] == FindingKind.UNMAPPED_VALUE).sum())

    by_system: dict[str, Any] = {}
    for system in config.systems:
        system_rows = rows[rows["system"] == system]
        entry = _comparison_counts(system_rows)
        entry["audit_readiness"] = audit_readiness(
            observations[observations["system"].astype("object") == system],
            config,
            only_authority=False,
        )
        entry["by_key"] = {
            key_text(key): _comparison_counts(group)
            for key, group in system_rows.groupby(KEY, sort=True)
        }
        by_system[system] = entry

    by_key = {}
    for key, group in expected.groupby(KEY, sort=True):
        by_key[key_text(key)] = _coverage(group)
    return {"overall": overall, "by_system": by_system, "by_key": by_key}


def _coverage(expected: pd.DataFrame) -> dict[str, Any]:
    known = int((expected["expected_state"] != State.UNKNOWN).sum())
    return {
        "person_keys": len(expected),
        "expected_known": known,
        "expected_denied": int((expected["expected_state"] == State.DENIED).sum()),
        "coverage": _rate(known, len(expected)),
    }


def _sync_success(
    rows: pd.DataFrame, expected: pd.DataFrame, config: AuditConfig, as_of: datetime
) -> float | None:
    """Deciding changes in the window reflected in every system holding the key."""
    start = pd.Timestamp(as_of) - config.policy.sync_window
    recent = expected[
        (expected["deciding_at"] >= start) & (expected["deciding_at"] <= pd.Timestamp(as_of))
    ]
    if recent.empty:
        return None
    held = rows[
        rows["actual_state"].isin([State.GRANTED, State.DENIED])
        | (rows["kind"] == FindingKind.MISSING_PREFERENCE)
    ]
    held = held.merge(recent[GROUP], on=GROUP)
    failed = held[held["actual_state"] != held["expected_state"]][GROUP].drop_duplicates()
    return _rate(len(recent) - len(failed), len(recent))


def audit_readiness(
    observations: pd.DataFrame, config: AuditConfig, only_authority: bool = True
) -> float | None:
    """Authority observations with a timestamp, capture source and proof / all of them.

    Without any authority configured, every observation is held to the standard.
    """
    rows = observations[observations["state"].isin([State.GRANTED, State.DENIED])]
    if only_authority and config.policy.authorities:
        authority = authority_of_keys(rows, config)
        rows = rows[rows["system"].astype("object").to_numpy() == authority.to_numpy()]
    if rows.empty:
        return None
    present = [
        rows[c].astype("string").str.strip().fillna("").ne("") for c in ("capture_source", "proof")
    ]
    ready = rows["updated_at"].notna() & present[0] & present[1]
    return _rate(int(ready.sum()), len(rows))


def identity_metrics(
    records: pd.DataFrame,
    person_of_record: pd.Series,
    conflicts: pd.DataFrame,
    ignored: pd.DataFrame,
    systems: list[str],
) -> dict[str, Any]:
    """Persons, records, and how well each system's records link to the others."""
    frame = pd.DataFrame(
        {
            "person_id": person_of_record.to_numpy(),
            "system": records["system"].astype("object").to_numpy(),
        }
    )
    systems_per_person = frame.groupby("person_id")["system"].nunique()
    frame["linked"] = frame["person_id"].map(systems_per_person).to_numpy() > 1
    by_system = {}
    for system in systems:
        rows = frame[frame["system"] == system]
        linked = int(rows["linked"].sum())
        by_system[system] = {
            "records": len(rows),
            "persons": int(rows["person_id"].nunique()),
            "linked_records": linked,
            "alone_records": int(len(rows) - linked),
            "match_rate": _rate(linked, len(rows)),
        }
    return {
        "persons": int(frame["person_id"].nunique()),
        "records": len(frame),
        "identity_conflicts": int(conflicts["person_id"].nunique()) if len(conflicts) else 0,
        "ignored_values": len(ignored),
        "by_system": by_system,
    }
