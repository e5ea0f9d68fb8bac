"""``trace``: everything the audit knows about one person, as data.

:func:`trace_person` answers "why did this person get our newsletter after
unsubscribing?": the person the identifier resolves to, every identifier that
linked their records, every record in every system, and per preference key the
timeline of observations, the expected state with the rule that decided it,
and each system's verdict. Rendering is elsewhere
(:mod:`prefsync_audit.investigate.render`); :meth:`PersonTrace.to_dict` is the
JSON form.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from prefsync_audit.investigate.explain import KeyExplanation, explain_key, steps_for_key
from prefsync_audit.investigate.identifiers import (
    HASH_SUFFIX,
    identifier_columns,
    identifier_table,
    mask,
)
from prefsync_audit.investigate.lookup import Match, find_person, mask_input
from prefsync_audit.investigate.source import Source, iso
from prefsync_audit.investigate.trace_model import (
    FindingRef,
    Holder,
    KeyTrace,
    LinkedIdentifier,
    PersonTrace,
    RecordRef,
    SystemVerdict,
    TimelineEntry,
)
from prefsync_audit.policy import KEY, authority_of_keys
from prefsync_audit.vocab import FindingKind, State

#: Finding kinds that are a verdict on one system's state for one key.
VERDICT_KINDS = {
    FindingKind.SUPPRESSION_GAP,
    FindingKind.PENDING_SYNC,
    FindingKind.UNVERIFIED_RESUBSCRIBE,
    FindingKind.OVER_SUPPRESSION,
    FindingKind.UNCONFIRMED_GRANT,
    FindingKind.MISSING_PREFERENCE,
}
AGREES = "agrees"
NOT_COMPARED = "not_compared"


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def trace_person(source: Source, identifier: str, reveal: bool = False) -> PersonTrace:
    """Trace the one person ``identifier`` resolves to (see :func:`find_person`)."""
    person_id, matches = find_person(source, identifier, reveal)
    records = source.records([person_id]).sort_values("record_key", ignore_index=True)
    findings = source.findings(person_id)
    anchor = source.anchor(person_id)
    keys = _keys(source, person_id, records, findings)
    conflict = findings[findings["kind"] == FindingKind.IDENTITY_CONFLICT]
    identifiers = _identifiers(source, person_id, records, matches, reveal)
    notes = []
    derived = any(h.via for i in identifiers for h in i.records)
    if derived and not source.settings.exact_profiles:
        notes.append(
            "the run folder does not record the hash profiles: hashes of plain identifiers "
            "were derived under every profile (give CONFIG to use the run's own)"
        )
    notes += [
        f"{k.key}: replaying the policy gives another expected state than the run "
        "(was the run made by another version?)"
        for k in keys
        if not k.consistent
    ]
    return PersonTrace(
        input=mask_input(identifier, reveal),
        source=source.info.label,
        as_of=source.info.as_of,
        person_id=person_id,
        anchor=f"{anchor[0]}={mask(anchor[0], anchor[1], reveal)}" if anchor else None,
        matched=[f"{i.kind}={i.value}" for i in identifiers if i.matched],
        identity_conflict=str(conflict["detail"].iloc[0]) if len(conflict) else None,
        identifiers=identifiers,
        records=_records(records, source.settings.kinds, reveal),
        keys=keys,
        findings=_findings(findings),
        notes=notes,
    )


def _records(records: pd.DataFrame, kinds: list[str], reveal: bool) -> list[RecordRef]:
    columns = identifier_columns(records.columns, kinds)
    refs = []
    for _, row in records.iterrows():
        held = [
            f"{kind}={mask(kind, str(row[column]), reveal)}"
            for column, kind in columns
            if _text(row[column]) is not None
        ]
        record_id = _text(row.get("record_id"))
        refs.append(
            RecordRef(
                system=str(row["system"]),
                source_file=str(row["source_file"]),
                source_row=_int(row["source_row"]),
                record_id=mask("record_id", record_id, reveal) if record_id else None,
                identifiers=" ".join(held),
            )
        )
    return refs


def _identifiers(
    source: Source, person_id: int, records: pd.DataFrame, matches: list[Match], reveal: bool
) -> list[LinkedIdentifier]:
    settings = source.settings
    table = identifier_table(records, settings.kinds, settings.profiles)
    pairs = list(zip(table["kind"], table["value"], strict=True))
    held = {pair for pair, via in zip(pairs, table["via"], strict=True) if via == ""}
    matched = {(m.kind, m.value) for m in matches}
    # The input also hashes under profiles no record uses; when it met a value a
    # record holds, those other hashes only add noise.
    if matched & held:
        matched &= held
    # A derived hash matters only where it meets a held one (that is how an
    # audience joins) or where the input matched it.
    table = table[[pair in held or pair in matched for pair in pairs]]
    ignored = source.ignored_reasons(person_id, {p for p in pairs if p in held or p in matched})
    where = records.set_index("record_key")
    order = {kind: i for i, kind in enumerate(settings.kinds)}
    linked = []
    for (kind, value), rows in table.groupby(["kind", "value"], sort=False):
        holders = [
            Holder(
                system=str(where.at[key, "system"]),
                source_file=str(where.at[key, "source_file"]),
                source_row=_int(where.at[key, "source_row"]),
                via=via or None,
            )
            for key, via in zip(rows["record_key"], rows["via"], strict=True)
        ]
        count = rows["record_key"].nunique()
        if (kind, value) in ignored:
            linking = f"not used for linking: {ignored[(kind, value)]}"
        else:
            linking = f"links {count} records" if count > 1 else "on one record"
        linked.append(
            LinkedIdentifier(
                kind, mask(kind, value, reveal), holders, linking, (kind, value) in matched
            )
        )
    linked.sort(
        key=lambda i: (order.get(i.kind, len(order)), i.kind.endswith(HASH_SUFFIX), i.value)
    )
    return linked


def _keys(
    source: Source, person_id: int, records: pd.DataFrame, findings: pd.DataFrame
) -> list[KeyTrace]:
    expected = source.expected(person_id).sort_values(KEY, ignore_index=True)
    if expected.empty:
        return []
    observations = source.observations(person_id)
    provenance = records[["record_key", "source_file", "source_row"]]
    observations = observations.drop(columns=["source_file", "source_row"], errors="ignore")
    observations = observations.merge(provenance, on="record_key", how="left")
    states = source.system_states(person_id)
    rows = observations.to_dict("records")
    authorities = authority_of_keys(expected, source.info.policy)
    traces = []
    for index, row in expected.iterrows():
        key = (str(row["purpose"]), str(row["channel"]), str(row["scope"]))
        authority = _text(authorities.loc[index])
        explained = explain_key(
            key,
            steps_for_key(rows, key),
            authority,
            source.info.regrant_requires_evidence,
            source.info.systems,
        )
        traces.append(_key_trace(key, row, explained, states, findings, source.info.systems))
    return traces


def _key_trace(
    key: tuple[str, str, str],
    row: pd.Series,
    explained: KeyExplanation,
    states: pd.DataFrame,
    findings: pd.DataFrame,
    systems: list[str],
) -> KeyTrace:
    deciding = explained.deciding
    deciding_at = row["deciding_at"]
    consistent = explained.expected_state == row["expected_state"] and (
        (deciding is None and pd.isna(deciding_at))
        or (
            deciding is not None
            and iso(deciding.updated_at) == iso(deciding_at)
            and deciding.system == _text(row["deciding_system"])
        )
    )
    timeline = [
        TimelineEntry(
            updated_at=iso(step.updated_at),
            system=step.system,
            state=step.state,
            raw_value=step.raw_value,
            observed_key="/".join(step.observed_key),
            source_file=step.source_file,
            source_row=step.source_row,
            capture_source=step.capture_source,
            proof=step.proof,
            counts=step.counts,
            reason=step.reason.value,
            decides=step.decides,
            deciding_change=step.deciding_change,
        )
        for step in explained.steps
    ]
    return KeyTrace(
        key="/".join(key),
        expected_state=str(row["expected_state"]),
        rule=explained.rule.value,
        explanation=explained.explanation,
        authority_system=explained.authority,
        deciding_at=iso(deciding_at),
        deciding_system=_text(row["deciding_system"]),
        timeline=timeline,
        systems=_verdicts(key, row, states, findings, systems),
        consistent=bool(consistent),
    )


def _verdicts(
    key: tuple[str, str, str],
    expected: pd.Series,
    states: pd.DataFrame,
    findings: pd.DataFrame,
    systems: list[str],
) -> list[SystemVerdict]:
    def of_key(frame: pd.DataFrame) -> pd.DataFrame:
        mask_ = pd.Series(True, index=frame.index)
        for part, wanted in zip(KEY, key, strict=True):
            mask_ &= frame[part] == wanted
        return frame[mask_]

    key_states = of_key(states).set_index("system")
    key_findings = of_key(findings[findings["kind"].isin([k.value for k in VERDICT_KINDS])])
    by_system = {str(r["system"]): r for _, r in key_findings.iterrows()}
    names = set(key_states.index.astype(str)) | set(by_system)
    rank = {name: i for i, name in enumerate(systems)}
    verdicts = []
    for system in sorted(names, key=lambda s: (rank.get(s, len(rank)), s)):
        state = key_states.loc[system] if system in key_states.index else None
        actual = None if state is None else str(state["actual_state"])
        updated = None if state is None else state["system_updated_at"]
        verdict = SystemVerdict(system, actual, iso(updated), NOT_COMPARED)
        finding = by_system.get(system)
        if finding is not None:
            verdict.verdict = str(finding["kind"])
            verdict.severity = str(finding["severity"])
            verdict.finding_id = str(finding["finding_id"])
            lag = finding["lag_seconds"]
            verdict.lag_seconds = None if pd.isna(lag) else float(lag)
        elif actual == expected["expected_state"] and actual != State.UNKNOWN:
            verdict.verdict = AGREES
            deciding = expected["deciding_at"]
            if updated is not None and not pd.isna(updated) and not pd.isna(deciding):
                lag = (pd.Timestamp(updated) - pd.Timestamp(deciding)).total_seconds()
                verdict.lag_seconds = max(0.0, lag)
        verdicts.append(verdict)
    return verdicts


def _findings(findings: pd.DataFrame) -> list[FindingRef]:
    refs = []
    for _, row in findings.iterrows():
        parts = [_text(row[p]) for p in KEY]
        refs.append(
            FindingRef(
                finding_id=str(row["finding_id"]),
                kind=str(row["kind"]),
                severity=str(row["severity"]),
                system=_text(row["system"]),
                key="/".join(parts) if all(parts) else None,  # type: ignore[arg-type]
                detail=_text(row["detail"]) or "",
                source_file=_text(row["source_file"]),
                source_row=_int(row["source_row"]),
            )
        )
    return refs


__all__ = ["PersonTrace", "trace_person"]
