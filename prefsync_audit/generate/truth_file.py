"""``truth.parquet`` (one row per planted finding) and ``truth.json`` (rates, counts,
expected metrics and row accounting).

Both are deterministic: the same seed and options give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefsync_audit.generate._arrays import NA, digits
from prefsync_audit.generate.identities import e164, sha256_hex
from prefsync_audit.generate.scenario import PHONE_OWN, Case, Scenario
from prefsync_audit.generate.truth import MISMATCH_KINDS, STATE_NAMES, Truth
from prefsync_audit.generate.writers import Written
from prefsync_audit.vocab import DEFAULT_SEVERITY, FindingKind

TRUTH_VERSION = 1
KIND_ORDER = {kind.value: i for i, kind in enumerate(FindingKind)}
COLUMNS = [
    "kind",
    "severity",
    "system",
    "purpose",
    "channel",
    "scope",
    "expected_state",
    "actual_state",
    "deciding_at",
    "system_updated_at",
    "source_file",
    "source_row",
    "person",
    "case",
    "customer_id",
    "email",
    "phone",
    "email_sha256",
    "phone_sha256",
]


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def truth_table(sc: Scenario, truth: Truth, written: dict[str, Written]) -> pa.Table:
    f = truth.findings
    n = len(f["person"])
    kind = f["kind"].astype(object)
    system = f["system"].astype(object)
    key = f["key"].astype(object)
    # Stable order: kind (as in the findings table), system, key, person.
    order = sorted(
        range(n),
        key=lambda i: (KIND_ORDER[kind[i]], system[i] or "", key[i] or "", int(f["person"][i])),
    )
    order = np.array(order, dtype=np.int64)
    person = f["person"][order]
    kind, system, key = kind[order], system[order], key[order]
    parts = [k.split("/") if k else [None, None, None] for k in key]
    source_file = np.full(n, None, dtype=object)
    source_row = np.full(n, -1, dtype=np.int64)
    rows = f["row"][order]
    for name, where in written.items():
        mine = (system == name) & (rows >= 0)
        source_file[mine] = np.array(where.files, dtype=object)[where.file_of[rows[mine]]]
        source_row[mine] = where.row_of[rows[mine]]
    ids = sc.ids
    has_customer = sc.crm.present[person] & ~sc.crm.bad_time[person]
    has_email = sc.crm.placeholder[person] < 0
    has_phone = has_customer & (sc.crm.phone[person] == PHONE_OWN)
    taken = pa.array(person)
    email = ids.email.take(taken)
    google = ids.google_email.take(taken)
    phone = e164(ids.phone[person])

    def masked(values: pa.Array, keep: np.ndarray) -> pa.Array:
        return pc.if_else(pa.array(keep), values, pa.nulls(len(values), values.type))

    def times(values: np.ndarray) -> pa.Array:
        return pa.array(
            np.where(values == NA, 0, values).astype("datetime64[s]"),
            pa.timestamp("s", tz="UTC"),
            mask=values == NA,
        )

    def states(values: np.ndarray) -> pa.Array:
        return pa.array([STATE_NAMES.get(int(v)) for v in values], pa.string())

    member = sc.ads.member[person]
    table = {
        "kind": pa.array(kind.tolist(), pa.string()),
        "severity": pa.array([DEFAULT_SEVERITY[FindingKind(k)].value for k in kind], pa.string()),
        "system": pa.array(system.tolist(), pa.string()),
        "purpose": pa.array([p[0] for p in parts], pa.string()),
        "channel": pa.array([p[1] for p in parts], pa.string()),
        "scope": pa.array([p[2] for p in parts], pa.string()),
        "expected_state": states(f["expected"][order]),
        "actual_state": states(f["actual"][order]),
        "deciding_at": times(f["deciding"][order]),
        "system_updated_at": times(f["system_time"][order]),
        "source_file": pa.array(source_file.tolist(), pa.string()),
        "source_row": pa.array(source_row, pa.int64(), mask=source_row < 0),
        "person": pa.array(person, pa.int64()),
        "case": pa.array([Case(c).name.lower() for c in sc.case[person]], pa.string()),
        "customer_id": masked(digits(ids.customer[person], 8, b"NW-"), has_customer),
        "email": masked(email, has_email),
        "phone": masked(phone, has_phone),
        "email_sha256": sha256_hex(masked(google, member & sc.ads.with_email[person])),
        "phone_sha256": sha256_hex(masked(phone, member & sc.ads.with_phone[person])),
    }
    return pa.table({name: table[name] for name in COLUMNS})


def expected_metrics(truth: Truth, findings: pa.Table) -> dict:
    """Counts per kind, mismatch rate and coverage as the audit must report them."""
    counts = {k.value: 0 for k in FindingKind}
    for value in findings.column("kind").to_pylist():
        counts[value] += 1
    by_system = {}
    total_comparisons = total_mismatches = 0
    for system, keys in sorted(truth.metrics["by_system"].items()):
        comparisons = sum(v["comparisons"] for v in keys.values())
        mismatches = sum(v["mismatches"] for v in keys.values())
        total_comparisons += comparisons
        total_mismatches += mismatches
        by_system[system] = {
            "comparisons": comparisons,
            "mismatches": mismatches,
            "mismatch_rate": _rate(mismatches, comparisons),
            "by_key": dict(sorted(keys.items())),
        }
    by_key = truth.metrics["by_key"]
    person_keys = sum(v["person_keys"] for v in by_key.values())
    known = sum(v["expected_known"] for v in by_key.values())
    mismatch_findings = sum(counts[k.value] for k in MISMATCH_KINDS)
    assert mismatch_findings == total_mismatches, "every mismatch is exactly one finding"
    return {
        "findings_by_kind": counts,
        "overall": {
            "comparisons": total_comparisons,
            "mismatches": total_mismatches,
            "mismatch_rate": _rate(total_mismatches, total_comparisons),
            "person_keys": person_keys,
            "expected_known": known,
            "expected_denied": sum(v["expected_denied"] for v in by_key.values()),
            "coverage": _rate(known, person_keys),
        },
        "by_system": by_system,
        "by_key": {
            k: {**v, "coverage": _rate(v["expected_known"], v["person_keys"])}
            for k, v in sorted(by_key.items())
            if v["person_keys"]
        },
    }


def write_truth(
    out: Path, sc: Scenario, truth: Truth, written: dict[str, Written], fmt: str
) -> dict:
    table = truth_table(sc, truth, written)
    expected = expected_metrics(truth, table)
    planted = np.bincount(sc.case, minlength=len(Case))
    document = {
        "version": TRUTH_VERSION,
        "seed": sc.seed,
        "persons_generated": sc.n,
        "format": fmt,
        "systems": list(sc.systems),
        "as_of": int(sc.as_of),
        "latency_sla_seconds": sc.sla,
        "drift": sc.drift.as_dict(),
        "planted_cases": {Case(i).name.lower(): int(c) for i, c in enumerate(planted) if i and c},
        "realized_rates": {
            kind: _rate(count, sc.n) for kind, count in expected["findings_by_kind"].items()
        },
        "expected": {
            "persons": truth.persons,
            "identity_conflicts": truth.identity_conflicts,
            "ignored_values": truth.ignored_values,
            **expected,
            "inputs": [entry for w in written.values() for entry in w.inputs],
        },
    }
    metadata = {
        b"prefsync_audit.truth": json.dumps(
            {k: document[k] for k in ("version", "seed", "persons_generated", "format")},
            sort_keys=True,
        ).encode(),
        b"prefsync_audit.drift": json.dumps(document["drift"], sort_keys=True).encode(),
    }
    table = table.replace_schema_metadata(metadata)
    pq.write_table(table, out / "truth.parquet")
    (out / "truth.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return document
