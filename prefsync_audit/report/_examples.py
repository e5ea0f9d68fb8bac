"""Example findings for the reports: the worst of each kind, masked or in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prefsync_audit.audit import AuditResult
from prefsync_audit.report import _format as fmt
from prefsync_audit.report._sections import KIND_DEFINITIONS
from prefsync_audit.report.summary import iso
from prefsync_audit.vocab import DEFAULT_SEVERITY, FindingKind, State

IDENTIFIER_ORDER = ("email", "phone", "customer_id", "email_sha256", "phone_sha256")


@dataclass(frozen=True)
class Example:
    system: str
    key: str
    expected: str
    actual: str
    opted_out_at: str
    lag: str
    identifiers: str
    source: str
    finding_id: str
    detail: str
    change: str
    """``new`` or ``persisting`` with a history, else empty."""


@dataclass(frozen=True)
class KindSection:
    kind: str
    severity: str
    count: int
    definition: str
    examples: list[Example]


def kind_sections(
    result: AuditResult, top_examples: int, reveal: bool, new_ids: set[str] | None
) -> list[KindSection]:
    """Per finding kind present: its count, definition and first examples.

    ``new_ids``: finding ids new since the previous run (None without a history).
    """
    findings = result.findings
    sections = []
    for kind in FindingKind:
        rows = findings[findings["kind"] == kind.value]
        if rows.empty:
            continue
        # The worst first: longest-waiting opt-outs, then the table's own order.
        top = rows.sort_values("lag_seconds", ascending=False, kind="stable", na_position="last")
        top = top.head(top_examples)
        # Raw identifiers are looked up only for the few persons shown.
        raw = (
            raw_identifiers(result, top["person_id"].dropna().astype(int).tolist())
            if reveal
            else {}
        )
        examples = [_example(row, raw, reveal, new_ids) for row in top.itertuples()]
        sections.append(
            KindSection(
                kind=kind.value,
                severity=DEFAULT_SEVERITY[kind].value,
                count=len(rows),
                definition=KIND_DEFINITIONS[kind],
                examples=examples,
            )
        )
    return sections


def _example(row: Any, raw: dict[int, str], reveal: bool, new_ids: set[str] | None) -> Example:
    has_person = not pd.isna(row.person_id)
    if reveal:
        identifiers = raw.get(int(row.person_id), "") if has_person else ""
    else:
        identifiers = _text(row.identifiers)
    key = (
        "/".join(_text(p) for p in (row.purpose, row.channel, row.scope))
        if isinstance(row.purpose, str)
        else ""
    )
    denied = row.expected_state == State.DENIED
    change = "" if new_ids is None else ("new" if row.finding_id in new_ids else "persisting")
    return Example(
        system=_text(row.system),
        key=key,
        expected=_text(row.expected_state),
        actual=_text(row.actual_state),
        opted_out_at=(iso(row.deciding_at) or "") if denied else "",
        lag="" if pd.isna(row.lag_seconds) else fmt.duration(row.lag_seconds),
        identifiers=identifiers,
        source=f"{row.source_file}:{row.source_row}" if isinstance(row.source_file, str) else "",
        finding_id=row.finding_id,
        detail=_text(row.detail),
        change=change,
    )


def raw_identifiers(result: AuditResult, person_ids: list[int]) -> dict[int, str]:
    """``email=… phone=…`` in full for these persons (``--reveal-identifiers``).

    The findings table only holds masked identifiers, so the raw ones are read
    from the records, the same way (the smallest value of each kind).
    """
    records = result.canonical.records
    person = result.resolution.person_of_record.reindex(records["record_key"]).to_numpy()
    wanted = np.isin(person, person_ids)
    subset = records.loc[wanted].assign(person_id=person[wanted])
    out: dict[int, list[str]] = {p: [] for p in person_ids}
    for kind in IDENTIFIER_ORDER:
        if kind not in subset.columns:
            continue
        first = subset[["person_id", kind]].dropna().groupby("person_id")[kind].min()
        for person_id, value in first.items():
            out[int(person_id)].append(f"{kind}={value}")
    return {p: " ".join(parts) for p, parts in out.items()}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
