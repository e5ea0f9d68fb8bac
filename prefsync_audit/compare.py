"""Stage 5 — compare: findings where a system differs from the expected state.

Each finding carries a stable ``finding_id``: a hash of its kind, system, key
and the person's strongest identifier, so the same problem keeps its id from
run to run even when person numbers change.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
import pandas as pd

from prefsync_audit._codes import column_codes, isin_integers, lookup, positions_in_sorted
from prefsync_audit.config import AuditConfig
from prefsync_audit.mask import mask_series
from prefsync_audit.policy import GROUP, KEY, Evaluation
from prefsync_audit.resolve import Resolution
from prefsync_audit.vocab import DEFAULT_SEVERITY, FindingKind, Severity, State

FINDING_COLUMNS = [
    "finding_id",
    "kind",
    "severity",
    "person_id",
    "system",
    "purpose",
    "channel",
    "scope",
    "expected_state",
    "actual_state",
    "authority_system",
    "authority_updated_at",
    "deciding_system",
    "deciding_at",
    "system_updated_at",
    "lag_seconds",
    "identity_conflict",
    "identifiers",
    "source_file",
    "source_row",
    "detail",
]
KIND_ORDER = list(FindingKind)
SEVERITY_ORDER = [Severity.CRITICAL, Severity.WARNING, Severity.INFO]


def comparisons(evaluation: Evaluation) -> pd.DataFrame:
    """Each system's state beside the expected state, one row per (person, key, system)."""
    states, expected = evaluation.system_states, evaluation.expected
    positions = _expected_rows(states, expected)
    if positions is None:
        return states.merge(expected, on=GROUP, how="left")
    # pandas' left join, by position: a hash join would hash four columns of
    # millions of rows, where a binary search over one number per (person, key)
    # walks both frames in the order evaluation sorted them.
    joined = states.reset_index(drop=True)
    for name in expected.columns.drop(GROUP):
        joined[name] = expected[name].array.take(positions, allow_fill=True)
    return joined


def _expected_rows(states: pd.DataFrame, expected: pd.DataFrame) -> np.ndarray | None:
    """The row of ``expected`` holding each state's (person, key), -1 where none;
    None when they cannot be joined by number (key columns not categoricals of
    the same categories, numbers beyond 64 bits, a (person, key) twice)."""
    numbers = [_group_numbers(frame, expected) for frame in (states, expected)]
    if numbers[0] is None or numbers[1] is None:
        return None
    of_states, of_expected = numbers
    if len(of_expected) and not (of_expected[1:] > of_expected[:-1]).all():
        order = np.argsort(of_expected, kind="stable")
        of_expected = of_expected[order]
        if (of_expected[1:] == of_expected[:-1]).any():
            return None
        at = positions_in_sorted(of_expected, of_states)
        return np.where(at >= 0, order[at], -1)
    return positions_in_sorted(of_expected, of_states)


def _group_numbers(frame: pd.DataFrame, expected: pd.DataFrame) -> np.ndarray | None:
    """(person, purpose, channel, scope) as one integer per row, in their order,
    by the key parts' codes in ``expected``'s categories (None where they differ)."""
    person = frame["person_id"]
    if person.dtype.kind not in "iu" or (len(person) and person.min() < 0):
        return None
    number = person.to_numpy().astype(np.int64)
    bound = int(number.max()) + 1 if len(number) else 1
    for column in KEY:
        dtype, theirs = frame[column].dtype, expected[column].dtype
        # Codes agree only for the same categories in the same order (unordered
        # categoricals compare equal whatever the order of their categories).
        same = isinstance(dtype, pd.CategoricalDtype) and isinstance(theirs, pd.CategoricalDtype)
        if not (same and dtype.categories.equals(theirs.categories)):
            return None
        size = len(dtype.categories) + 1  # code -1 (missing) counts as 0
        bound *= size
        if bound >= 1 << 62:
            return None
        number = number * size + (frame[column].cat.codes.to_numpy().astype(np.int64) + 1)
    return number


def classify(compared: pd.DataFrame, config: AuditConfig, as_of: datetime) -> pd.Series:
    """The finding kind of each comparison row (a categorical), or NaN where the
    system agrees."""
    # Compared as columns: categoricals compare their codes, not a string per row.
    expected, actual = compared["expected_state"], compared["actual_state"]
    system_time = compared["system_updated_at"]
    deciding = compared["deciding_at"]
    # An untimed observation is older than every timed one (DESIGN §5.3): a timed
    # grant is newer than an untimed deciding denial.
    newer_grant = (
        system_time.notna() & (deciding.isna() | (system_time > deciding).fillna(False))
    ).to_numpy(dtype=bool)
    sla_of_system = pd.Series(
        [config.latency_sla_of(name) for name in config.systems], index=list(config.systems)
    ).astype("timedelta64[ns]")
    system_codes, system_names = column_codes(compared["system"])
    sla_of_name = sla_of_system.reindex(system_names).to_numpy()
    sla = lookup(sla_of_name, system_codes, np.timedelta64("NaT"))
    waiting = (pd.Timestamp(as_of) - deciding).to_numpy()
    overdue = deciding.isna().to_numpy() | (waiting > sla)

    def where(column: pd.Series, state: State) -> np.ndarray:
        return (column == state.value).to_numpy(dtype=bool)

    gap_like = where(expected, State.DENIED) & where(actual, State.GRANTED)
    names = [
        FindingKind.UNVERIFIED_RESUBSCRIBE.value,
        FindingKind.SUPPRESSION_GAP.value,
        FindingKind.PENDING_SYNC.value,
        FindingKind.OVER_SUPPRESSION.value,
        FindingKind.UNCONFIRMED_GRANT.value,
    ]
    kind_code = np.select(
        [
            gap_like & newer_grant,
            gap_like & overdue,
            gap_like,
            where(expected, State.GRANTED) & where(actual, State.DENIED),
            where(expected, State.UNKNOWN) & where(actual, State.GRANTED),
        ],
        np.arange(len(names), dtype=np.int8),
        default=np.int8(-1),
    )
    # A categorical: a byte a row, where text would be a string per row.
    kind = pd.Categorical.from_codes(kind_code, categories=names)
    return pd.Series(kind, index=compared.index, copy=False)


def person_identifiers(
    records: pd.DataFrame, person_of_record: pd.Series, kinds: list[str], persons: pd.Series
) -> pd.Series:
    """A masked summary of each person's identifiers (``email=j***@x.com phone=…``),
    for the given persons only (those with findings)."""
    wanted = pd.unique(persons.dropna())
    person = person_of_record.to_numpy()
    # Person ids are whole numbers from 1: a flag per id, read for every record,
    # where a hash table of the wanted ids (185k at 5M persons) would be probed
    # 26M times, missing the cache more the more persons have findings.
    in_scope = np.flatnonzero(isin_integers(person, np.asarray(wanted, dtype=np.int64)))
    summary = pd.Series("", index=pd.Index(wanted, name="person_id"), dtype="object")
    for kind in ("email", "phone", "customer_id", "email_sha256", "phone_sha256"):
        if kind not in kinds or kind not in records.columns:
            continue
        values = pd.DataFrame(
            {"person_id": person[in_scope], "value": records[kind].array.take(in_scope)}
        ).dropna()
        if values.empty:
            continue
        first = values.groupby("person_id")["value"].min()
        text = (kind + "=" + mask_series(kind, first).astype(str)).reindex(summary.index)
        present = text.notna()
        separator = np.where(summary[present] != "", " ", "")
        summary[present] = summary[present] + separator + text[present]
    return summary


def _finding_ids(frame: pd.DataFrame, anchors: pd.DataFrame) -> pd.Series:
    anchor = frame[["person_id"]].merge(anchors, on="person_id", how="left")

    def text(values: pd.Series) -> pd.Series:
        return pd.Series(values.to_numpy(), dtype="string").fillna("")

    joined = text(frame["kind"]).str.cat(
        [text(frame[c]) for c in ("system", "purpose", "channel", "scope")]
        + [text(anchor["anchor_kind"]), text(anchor["anchor_value"]), text(frame["detail"])],
        sep="|",
    )
    ids = [hashlib.sha256(t.encode()).hexdigest()[:16] for t in joined.tolist()]
    return pd.Series(ids, index=frame.index, dtype="object")


def find(
    evaluation: Evaluation,
    resolution: Resolution,
    records: pd.DataFrame,
    unmapped: pd.DataFrame,
    persons_by_system: pd.DataFrame,
    config: AuditConfig,
    as_of: datetime,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All findings, and the comparison table they came from (for metrics)."""
    compared = comparisons(evaluation)
    compared["kind"] = classify(compared, config, as_of)
    mismatched = compared[compared["kind"].notna()].copy()
    # Findings of every part are text: a categorical's ranks would sort by category.
    mismatched["kind"] = mismatched["kind"].astype("str")
    mismatched["lag_seconds"] = _finding_lag(mismatched, as_of)
    parts = [mismatched, _missing(evaluation, persons_by_system, config)]

    conflicts = resolution.conflicts
    if len(conflicts):
        parts.append(
            pd.DataFrame(
                {
                    "person_id": conflicts["person_id"],
                    "kind": FindingKind.IDENTITY_CONFLICT.value,
                    "detail": _conflict_details(conflicts),
                }
            )
        )
    if len(unmapped):
        person = resolution.person_of_record.reindex(unmapped["record_key"]).to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "person_id": person,
                    "kind": FindingKind.UNMAPPED_VALUE.value,
                    "system": unmapped["system"].astype("object").to_numpy(),
                    "record_key": unmapped["record_key"].to_numpy(),
                    "detail": (
                        unmapped["source_column"].astype(str)
                        + "="
                        + unmapped["raw_value"].astype(str)
                    ).to_numpy(),
                }
            )
            # One finding per person, system and value: the same unknown value on two
            # rows is one problem to fix (the summary still counts every row).
            .drop_duplicates(["person_id", "system", "detail"])
        )
    non_empty = [p for p in parts if len(p)]
    findings = (
        pd.concat(non_empty, ignore_index=True)
        if non_empty
        else pd.DataFrame(
            {"person_id": pd.Series(dtype="Int64"), "kind": pd.Series(dtype="object")}
        )
    )
    return _finish(findings, resolution, records, config), compared


def _conflict_details(conflicts: pd.DataFrame) -> pd.Series:
    """``kind: v***1, v***2`` per conflict, the values masked."""
    values = conflicts[["kind", "values"]].explode("values")
    masked = np.empty(len(values), dtype=object)
    kinds = values["kind"].to_numpy()
    for kind in pd.unique(kinds):
        in_kind = kinds == kind
        masked[in_kind] = mask_series(str(kind), values["values"][in_kind]).to_numpy()
    joined = pd.Series(masked, index=values.index).groupby(level=0, sort=False).agg(", ".join)
    return conflicts["kind"].astype(str) + ": " + joined.reindex(conflicts.index)


def _finding_lag(rows: pd.DataFrame, as_of: datetime) -> pd.Series:
    """Gaps and pending syncs: how long the opt-out has waited. Re-subscribes:
    how long after the opt-out the uncounted grant came."""
    waiting = (pd.Timestamp(as_of) - rows["deciding_at"]).dt.total_seconds()
    resubscribe = (rows["system_updated_at"] - rows["deciding_at"]).dt.total_seconds()
    lag = pd.Series(np.nan, index=rows.index)
    gap = rows["kind"].isin([FindingKind.SUPPRESSION_GAP, FindingKind.PENDING_SYNC])
    lag[gap] = waiting[gap]
    again = rows["kind"] == FindingKind.UNVERIFIED_RESUBSCRIBE
    lag[again] = resubscribe[again]
    return lag.clip(lower=0)


def _missing(
    evaluation: Evaluation, persons_by_system: pd.DataFrame, config: AuditConfig
) -> pd.DataFrame:
    """Persons a system knows but holds no state for, on a key it must hold."""
    states = evaluation.system_states
    parts = []
    for system, settings in config.systems.items():
        if not settings.must_hold:
            continue
        persons = persons_by_system.loc[
            persons_by_system["system"] == system, ["person_id", "record_key"]
        ]
        held = states.loc[(states["system"] == system).to_numpy(), GROUP]
        for key in settings.must_hold:
            holds = (
                (held["purpose"] == key[0])
                & (held["channel"] == key[1])
                & (held["scope"] == key[2])
            )
            lacking = ~persons["person_id"].isin(held.loc[holds.to_numpy(), "person_id"])
            parts.append(
                persons[lacking.to_numpy()].assign(
                    purpose=key[0], channel=key[1], scope=key[2], system=system
                )
            )
    if not parts:
        return pd.DataFrame()
    missing = pd.concat(parts, ignore_index=True)
    # Only the few persons concerned: a merge against every expected row costs more.
    expected = evaluation.expected
    expected = expected[expected["person_id"].isin(missing["person_id"]).to_numpy()]
    missing = missing.merge(expected.astype({k: "object" for k in KEY}), on=GROUP, how="left")
    missing["kind"] = FindingKind.MISSING_PREFERENCE.value
    missing["actual_state"] = None
    return missing


def _finish(
    findings: pd.DataFrame, resolution: Resolution, records: pd.DataFrame, config: AuditConfig
) -> pd.DataFrame:
    for column in [*FINDING_COLUMNS, "record_key"]:
        if column not in findings.columns:
            findings[column] = None
    findings["severity"] = findings["kind"].map(
        {kind.value: DEFAULT_SEVERITY[kind].value for kind in FindingKind}
    )
    conflicted = set(resolution.conflicts["person_id"].tolist())
    findings["identity_conflict"] = findings["person_id"].isin(conflicted)
    identifiers = person_identifiers(
        records, resolution.person_of_record, list(config.identity.kinds), findings["person_id"]
    )
    findings["identifiers"] = findings["person_id"].map(identifiers)
    by_record = records.set_index("record_key")
    has_record = findings["record_key"].notna()
    keys = findings.loc[has_record, "record_key"].astype("int64")
    findings.loc[has_record, "source_file"] = by_record["source_file"].reindex(keys).to_numpy()
    findings.loc[has_record, "source_row"] = by_record["source_row"].reindex(keys).to_numpy()
    findings["source_row"] = findings["source_row"].astype("Int64")
    findings["detail"] = findings["detail"].astype("object").fillna("")
    for column in (
        "system",
        "purpose",
        "channel",
        "scope",
        "expected_state",
        "actual_state",
        "authority_system",
        "deciding_system",
        "source_file",
    ):
        findings[column] = findings[column].astype("object")
    findings["finding_id"] = _finding_ids(findings, resolution.anchors)
    findings["_kind_rank"] = findings["kind"].map({k.value: i for i, k in enumerate(KIND_ORDER)})
    findings = findings.sort_values(
        ["_kind_rank", "system", "purpose", "channel", "scope", "finding_id"],
        na_position="first",
        kind="stable",
        ignore_index=True,
    )
    for column in ("authority_updated_at", "deciding_at", "system_updated_at"):
        findings[column] = pd.to_datetime(findings[column], utc=True).astype("datetime64[ns, UTC]")
    findings["lag_seconds"] = pd.to_numeric(findings["lag_seconds"]).astype("float64")
    findings["person_id"] = findings["person_id"].astype("Int64")
    return findings[FINDING_COLUMNS].reset_index(drop=True)


__all__ = ["FINDING_COLUMNS", "KEY", "classify", "comparisons", "find"]
