"""Remediation files: what each system must import to close its suppression gaps.

For every system with suppression gaps (opt-outs not applied within the SLA)
or unverified re-subscribes (a grant after an opt-out that did not count), one
CSV the system can import: the person's identifiers *as that system holds
them*, under the column names of that system's own export, so the file is keyed
the way the system keys — an email for an email platform, an E.164 number for
an SMS platform, the platform's own SHA-256 for an ad audience — plus the
reason and the times that justify it. Pending syncs (still within the SLA) are
left out: they are in flight, not failures.

The files hold raw identifiers, so they are written owner-only (0600) into a
folder created owner-only (0700).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from prefsync_audit.audit import AuditResult
from prefsync_audit.mapping import Mapping
from prefsync_audit.report import _format as fmt
from prefsync_audit.report._sections import is_membership
from prefsync_audit.report.files import formula_safe, neutralize_formulas, write_text
from prefsync_audit.report.summary import iso, iso_texts
from prefsync_audit.vocab import FindingKind

#: Findings a system fixes by suppressing the person.
REMEDIATED_KINDS = (FindingKind.SUPPRESSION_GAP, FindingKind.UNVERIFIED_RESUBSCRIBE)
MANIFEST = "manifest.json"

#: Columns after the identifiers, in this order.
DETAIL_COLUMNS = [
    "purpose",
    "channel",
    "scope",
    "action",
    "reason",
    "finding_kind",
    "opted_out_at",
    "opted_out_via",
    "authority_system",
    "authority_updated_at",
    "finding_id",
]

Action = Literal["opt_out", "remove"]


@dataclass
class RemediationFile:
    """One system's import file."""

    system: str
    action: Action
    """``remove`` for a membership export (an audience, a suppression list: being
    listed is the state), else ``opt_out`` (set the preference to denied)."""
    keyed_on: list[str]
    """The identifier kinds in the file (``record_id`` first when the system has one)."""
    rows: pd.DataFrame = field(repr=False)

    @property
    def file_name(self) -> str:
        return file_name(self.system)


def file_name(system: str) -> str:
    return f"{system}-suppressions.csv"


def _key_columns(mapping: Mapping) -> dict[str, str]:
    """Identifier kind → the column name the system's export uses for it."""
    columns: dict[str, str] = {}
    if mapping.record_id:
        columns["record_id"] = mapping.record_id
    for kind, spec in mapping.identifiers.items():
        columns[kind] = spec.column
    taken: set[str] = set(DETAIL_COLUMNS)
    for kind, column in columns.items():
        # Two kinds read from one column, or an export column named like one of
        # ours: keep every column distinct by naming the kind.
        if column in taken:
            columns[kind] = f"{column} ({kind})"
        taken.add(columns[kind])
    return columns


def _reason(
    kind: str, deciding_system: object, deciding_at: object, lag_seconds: float, sla_seconds: float
) -> str:
    since = f"opt-out via {deciding_system or 'unknown system'}"
    if kind == FindingKind.UNVERIFIED_RESUBSCRIBE:
        return (
            f"{since} at {iso(deciding_at) or 'an unknown time'}, then a grant "
            "here without evidence of consent: it does not count; suppress until proven"
        )
    if pd.isna(deciding_at):
        return f"{since} at an unknown time, not applied here"
    return (
        f"{since} at {iso(deciding_at)} not applied here after "
        f"{fmt.duration(lag_seconds)} (SLA {fmt.duration_words(sla_seconds)})"
    )


_PLAIN_NUMBER = re.compile(r"[+-]?\d+")


def _neutralize_unless_number(value: object) -> object:
    if isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value):
        return value
    return neutralize_formulas(value)


def build_remediation(result: AuditResult) -> list[RemediationFile]:
    """One file per system that has something to suppress, in config order."""
    findings = result.findings[result.findings["kind"].isin([k.value for k in REMEDIATED_KINDS])]
    if findings.empty:
        return []
    records = result.canonical.records
    person_of_record = result.resolution.person_of_record.reindex(records["record_key"]).to_numpy()
    files = []
    for system in result.config.systems:
        mine = findings[findings["system"] == system]
        if mine.empty:
            continue
        mapping = result.config.mapping_of(system)
        key_columns = _key_columns(mapping)
        kinds = [kind for kind in key_columns if kind != "record_id"]
        # The system column is categorical: compared by code, not string by string.
        in_system = (records["system"] == system).to_numpy(dtype=bool)
        held = records.loc[in_system, ["record_key", "record_id", *kinds]]
        held.insert(0, "person_id", person_of_record[in_system])
        # Every record of the person in this system: a person listed twice (an
        # audience with an email row and a phone row) is removed twice.
        rows = mine.merge(held, on="person_id", how="inner").sort_values(
            ["finding_id", "record_key"], kind="stable"
        )
        sla = result.config.latency_sla_of(system).total_seconds()
        action: Action = "remove" if is_membership(mapping) else "opt_out"
        table = pd.DataFrame(
            {column: rows[kind].to_numpy() for kind, column in key_columns.items()}
        )
        table["purpose"] = rows["purpose"].to_numpy()
        table["channel"] = rows["channel"].to_numpy()
        table["scope"] = rows["scope"].to_numpy()
        table["action"] = action
        # Column by column, not a Series per row (iterrows): tens of thousands of
        # rows at millions of persons.
        reason_columns = (
            rows[c] for c in ("kind", "deciding_system", "deciding_at", "lag_seconds")
        )
        table["reason"] = [_reason(*values, sla) for values in zip(*reason_columns, strict=True)]
        table["finding_kind"] = rows["kind"].to_numpy()
        table["opted_out_at"] = iso_texts(rows["deciding_at"])
        table["opted_out_via"] = rows["deciding_system"].to_numpy()
        table["authority_system"] = rows["authority_system"].to_numpy()
        table["authority_updated_at"] = iso_texts(rows["authority_updated_at"])
        table["finding_id"] = rows["finding_id"].to_numpy()
        identifiers = list(key_columns.values())
        table = table.drop_duplicates().reset_index(drop=True)
        # Neutralized like findings.csv, in case the file is opened in a spreadsheet;
        # identifiers that are plain numbers (E.164 "+1…") stay verbatim so
        # importers match them, and no spreadsheet evaluates them as formulas.
        table[DETAIL_COLUMNS] = formula_safe(table[DETAIL_COLUMNS])
        for column in identifiers:
            table[column] = table[column].map(_neutralize_unless_number)
        table = table[[*identifiers, *DETAIL_COLUMNS]]
        files.append(RemediationFile(system, action, list(key_columns), table))
    return files


def write_remediation(result: AuditResult, out_dir: Path) -> list[Path]:
    """Write the files and ``manifest.json`` into ``out_dir``; return the paths.

    A file left by an earlier run for a system that now has nothing to suppress
    is removed, so a stale list is never imported by mistake.
    """
    if not out_dir.exists():
        out_dir.mkdir(parents=True, mode=0o700)
    files = build_remediation(result)
    written = []
    for item in files:
        path = out_dir / item.file_name
        text = item.rows.to_csv(index=False, lineterminator="\n")
        write_text(path, text, private=True)
        written.append(path)
    current = {item.system for item in files}
    for system in result.config.systems:
        stale = out_dir / file_name(system)
        if system not in current and stale.exists():
            stale.unlink()
    manifest = {
        "as_of": iso(result.as_of),
        "config_sha256": result.config.sha256,
        "files": [
            {
                "system": item.system,
                "file": item.file_name,
                "action": item.action,
                "keyed_on": item.keyed_on,
                "rows": len(item.rows),
                "by_kind": {
                    str(kind): int(count)
                    for kind, count in sorted(item.rows["finding_kind"].value_counts().items())
                },
            }
            for item in files
        ],
    }
    path = out_dir / MANIFEST
    write_text(path, json.dumps(manifest, indent=2) + "\n")
    written.append(path)
    return written
