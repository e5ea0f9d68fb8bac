"""Stage 6 — metrics: rates and counts per system × key and overall.

Every metric is defined in ``docs/metrics.md`` with its formula; the names
here are the names in ``summary.json``. Values are plain Python numbers
(rounded to 6 places) so the summary is byte-stable.

Counting runs on integer codes: each row gets the number of its group (its
system, its system × key) and the counts of all groups come from one
``np.bincount``. Text columns repeat few distinct values, so each is hashed
once into codes and every test on the text (known state, finding kind, blank
after stripping) runs on the distinct values only. Per-row codes are kept
narrow (``int8`` where they fit): on large runs, filling fresh memory costs
as much as the arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from prefsync_audit._codes import code_type, column_codes, filled, lookup
from prefsync_audit._model import key_text
from prefsync_audit._threads import side_by_side
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
#: Position of each counted finding kind in ``KIND_COUNTS``.
KIND_INDEX = {kind.value: position for position, kind in enumerate(KIND_COUNTS.values())}
KNOWN_STATES = (State.GRANTED.value, State.DENIED.value)
#: Largest table of flags (bytes) a count may use instead of hashing.
DENSE_LIMIT = 1 << 26
#: ...or, for counting distinct persons, up to this many bytes per counted row
#: (less than the rows themselves hold).
DENSE_BYTES_PER_ROW = 32


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _seconds(value: float) -> float:
    return round(float(value), 3)


def latency_summary(lags: pd.Series, sla_seconds: pd.Series | float) -> dict[str, Any]:
    """p50, p95 and max of lags (seconds) and how many exceed the SLA."""
    lags = lags.dropna()
    over = lags > (sla_seconds[lags.index] if isinstance(sla_seconds, pd.Series) else sla_seconds)
    return _latency_block(lags, int(over.sum()))


def _latency_block(lags: np.ndarray | pd.Series, over_sla: int) -> dict[str, Any]:
    """The ``sync_latency`` block of lags without missing values."""
    if len(lags) == 0:
        return {"count": 0, "p50": None, "p95": None, "max": None, "over_sla": 0}
    # One call partitions once; each percentile comes out as computed on its own.
    p50, p95 = np.percentile(lags, [50, 95])
    return {
        "count": len(lags),
        "p50": _seconds(p50),
        "p95": _seconds(p95),
        "max": _seconds(lags.max()),
        "over_sla": int(over_sla),
    }


# --- codes -------------------------------------------------------------------


def _shared_codes(*columns: pd.Series) -> tuple[list[np.ndarray], np.ndarray]:
    """Each column's values as narrow codes into one array of their distinct values
    (-1: missing), so that equal values of different columns get equal codes."""
    factorized = [column_codes(column) for column in columns]
    shared, uniques = pd.factorize(np.concatenate([values for _, values in factorized]))
    shared = shared.astype(code_type(len(uniques)))
    codes, start = [], 0
    for own_codes, values in factorized:
        codes.append(lookup(shared[start : start + len(values)], own_codes, -1))
        start += len(values)
    return codes, np.asarray(uniques, dtype=object)


def _distinct_rows(code_columns: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Number the rows of non-negative integer code columns by their distinct
    combination; also each combination's codes (one array per column)."""
    widths = [int(codes.max()) + 1 if len(codes) else 1 for codes in code_columns]
    bound = math.prod(widths)
    if bound <= DENSE_LIMIT:
        dtype = code_type(bound)
        combined = np.zeros(len(code_columns[0]), dtype=dtype)
        for codes, width in zip(code_columns, widths, strict=True):
            combined *= width
            combined += codes
        present = np.zeros(bound, dtype=bool)
        present[combined] = True
        number = (np.cumsum(present) - 1).astype(dtype)[combined]
        remainder = np.flatnonzero(present)
        distinct = []
        for width in reversed(widths):
            distinct.append(remainder % width)
            remainder = remainder // width
        return number, distinct[::-1]
    # Many combinations: number them by hashing, renumbering densely (below the row
    # count) before the product can overflow.
    combined = np.zeros(len(code_columns[0]), dtype=np.int64)
    bound = 1
    for codes, width in zip(code_columns, widths, strict=True):
        if bound * width >= 2**62:
            combined, uniques = pd.factorize(combined)
            bound = max(len(uniques), 1)
        combined = combined * width + codes
        bound *= width
    number, _ = pd.factorize(combined)
    # Combinations are numbered 0, 1, 2, … as they first appear, so each first
    # appearance raises the running maximum by one.
    first = np.flatnonzero(np.diff(np.maximum.accumulate(number), prepend=-1) > 0)
    return number, [codes[first] for codes in code_columns]


def _key_ranks(*frames: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    """Each row's preference key (rows of ``frames`` in turn) as its rank among the
    distinct keys, sorted as ``groupby(KEY, sort=True)`` sorts them, and those keys.
    A row with a missing key part ranks -1: groupby leaves it out."""
    parts = []
    for part in KEY:
        codes, names = _shared_codes(*(frame[part] for frame in frames))
        parts.append((np.concatenate(codes), names))
    # Codes shifted by one: a missing part (-1) becomes 0.
    number, distinct = _distinct_rows([codes + 1 for codes, _ in parts])
    part_names = [names for _, names in parts]
    keys: list[tuple[str, str, str] | None] = [
        None
        if min(row) == 0
        else tuple(names[c - 1] for names, c in zip(part_names, row, strict=True))
        for row in zip(*(codes.tolist() for codes in distinct), strict=True)
    ]
    ordered = sorted((i for i, key in enumerate(keys) if key is not None), key=keys.__getitem__)
    rank = np.full(len(keys), -1, dtype=code_type(len(keys)))
    rank[ordered] = np.arange(len(ordered))
    return rank[number], [keys[i] for i in ordered]  # type: ignore[misc]


def _system_positions(columns: list[pd.Series], systems: list[str]) -> list[np.ndarray]:
    """Each value's position in ``systems`` (-1: another system or none)."""
    codes, names = _shared_codes(*columns)
    where = {system: position for position, system in enumerate(systems)}
    table = np.array([where.get(name, -1) for name in names], dtype=code_type(len(systems)))
    return [lookup(table, column_codes, -1) for column_codes in codes]


def _person_codes(*columns: pd.Series) -> list[np.ndarray]:
    """Persons of each column as non-negative integers, equal across columns exactly
    where the ids are (-1: missing): the ids themselves when they are small
    non-negative integers already, else codes."""
    ids = [column.to_numpy() for column in columns]
    if all(values.dtype.kind in "iu" for values in ids):
        total = sum(len(values) for values in ids)
        if all(len(v) == 0 or (v.min() >= 0 and v.max() < 4 * total) for v in ids):
            return ids
        joined = pd.factorize(np.concatenate(ids))[0]
        return np.split(joined, np.cumsum([len(values) for values in ids])[:-1])
    return _shared_codes(*columns)[0]


def lag_seconds(
    later: pd.Series, later_rows: np.ndarray, earlier: pd.Series, earlier_rows: np.ndarray
) -> np.ndarray:
    """Seconds from ``earlier`` to ``later`` at the given row positions of each,
    floored at 0 (NaN where a time is missing): what
    ``(later - earlier).dt.total_seconds().clip(lower=0)`` gives on those rows."""
    if later.dtype == earlier.dtype and pd.api.types.is_datetime64_any_dtype(later.dtype):
        # Subtract the int64 ticks of the rows only; pandas converts to seconds.
        later_ticks = later.array.asi8[later_rows]
        earlier_ticks = earlier.array.asi8[earlier_rows]
        not_a_time = np.iinfo(np.int64).min
        missing = (later_ticks == not_a_time) | (earlier_ticks == not_a_time)
        later_ticks -= earlier_ticks
        later_ticks[missing] = not_a_time
        delta = pd.Series(later_ticks.view(f"timedelta64[{later.array.unit}]"), copy=False)
    else:
        later = later.iloc[later_rows].reset_index(drop=True)
        delta = later - earlier.iloc[earlier_rows].reset_index(drop=True)
    return delta.dt.total_seconds().clip(lower=0).to_numpy(dtype="float64")


# --- comparison counts -------------------------------------------------------

#: A comparison row's class: (finding kind + 1, both known, mismatch), so that one
#: bincount over (slot, class) gives every count of every block.
_CLASS_SHAPE = (len(KIND_COUNTS) + 1, 2, 2)
_CLASSES = math.prod(_CLASS_SHAPE)


@dataclass(frozen=True)
class _Comparisons:
    """The comparison rows — ``compared``, then the missing-preference findings —
    as arrays of what the counts read."""

    system: np.ndarray
    """Position of the row's system in the config, -1 for another system."""
    key: np.ndarray
    """Rank of the row's key in ``keys``, -1 when a key part is missing."""
    keys: list[tuple[str, str, str]]
    person: np.ndarray
    """Non-negative person number, -1 when missing (always so for a finding row)."""
    both_known: np.ndarray
    row_class: np.ndarray
    """The row's class in ``_CLASS_SHAPE``."""
    timed: np.ndarray
    """Positions of the rows with a lag: the system agrees with a known expected
    state and both times exist."""
    lag: np.ndarray
    """Per timed row, seconds from the deciding change to the system state (≥ 0)."""
    over_sla: np.ndarray
    """Per timed row, whether the lag exceeds the system's SLA."""
    unsynced: np.ndarray
    """Held (known state or missing preference) and not equal to the expected state."""


def _comparison_rows(
    compared: pd.DataFrame, missing: pd.DataFrame, config: AuditConfig
) -> _Comparisons:
    """The comparison rows as codes, without copying or joining the frames."""
    none = np.full(len(missing), -1, dtype=np.int8)
    (actual, expected, missing_expected), states = _shared_codes(
        compared["actual_state"], compared["expected_state"], missing["expected_state"]
    )
    # A finding row has no system state.
    actual = np.concatenate([actual, none])
    expected = np.concatenate([expected, missing_expected])
    known_state = np.array([state in KNOWN_STATES for state in states], dtype=bool)
    known = lookup(known_state, actual, False)
    both_known = known & lookup(known_state, expected, False)
    # As with pandas' ==, a missing state equals nothing.
    equal = (actual == expected) & (actual >= 0)

    (compared_kind, missing_kind), kinds = _shared_codes(compared["kind"], missing["kind"])
    kind_table = np.array([KIND_INDEX.get(kind, -1) for kind in kinds], dtype=np.int8)
    kind = lookup(kind_table, np.concatenate([compared_kind, missing_kind]), -1)
    row_class = (kind + 1) * 4
    row_class += both_known * np.int8(2)
    row_class += both_known & ~equal

    systems = list(config.systems)
    system = np.concatenate(_system_positions([compared["system"], missing["system"]], systems))
    sla_of = np.array([config.latency_sla_of(s).total_seconds() for s in systems], float)
    later, earlier = compared["system_updated_at"], compared["deciding_at"]
    timed = np.flatnonzero(
        (equal & known)[: len(compared)] & later.notna().to_numpy() & earlier.notna().to_numpy()
    )
    lag = lag_seconds(later, timed, earlier, timed)
    (person,) = _person_codes(compared["person_id"])
    key, keys = _key_ranks(compared, missing)
    return _Comparisons(
        system=system,
        key=key,
        keys=keys,
        person=np.concatenate([person, np.full(len(none), -1, dtype=person.dtype)]),
        both_known=both_known,
        row_class=row_class,
        timed=timed,
        lag=lag,
        over_sla=lag > lookup(sla_of, system[timed], np.nan),
        unsynced=(known | (kind == KIND_INDEX[FindingKind.MISSING_PREFERENCE])) & ~equal,
    )


def _comparison_blocks(
    rows: _Comparisons, system_count: int, workers: int = 1
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The counts block overall, per system, and per system × key (only the keys
    the system has rows of, sorted), from one pass over the rows.

    Each row gets a slot (system + 1, key + 1); slot 0 of either part holds the
    rows of a system not configured or with a key part missing, which count only
    in the wider scopes. Slots run system by system, so a system's slots are
    contiguous."""
    shape = (system_count + 1, len(rows.keys) + 1)
    slot = rows.system.astype(np.intp) + 1
    slot *= shape[1]
    slot += rows.key
    slot += 1
    slot_class = slot * _CLASSES
    slot_class += rows.row_class
    by_class = np.bincount(slot_class, minlength=math.prod(shape) * _CLASSES)
    by_class = by_class.reshape(*shape, *_CLASS_SHAPE)
    # The distinct persons and the latency blocks take about as long: side by side.
    (persons, persons_by_system, persons_by_slot), latency_blocks = side_by_side(
        [lambda: _distinct_persons(rows, slot, shape), lambda: _latency_blocks(rows, slot, shape)],
        workers,
    )
    latency, latency_by_system, latency_by_slot = latency_blocks

    overall = _counts_block(by_class.sum(axis=(0, 1)), persons, latency)
    by_system, by_key = [], []
    for s in range(1, shape[0]):
        by_system.append(
            _counts_block(by_class[s].sum(axis=0), persons_by_system[s], latency_by_system[s - 1])
        )
        # As groupby did: a key appears under a system only when the system has rows of it.
        by_key.append(
            {
                key_text(key): _counts_block(
                    by_class[s, k], persons_by_slot[s, k], latency_by_slot[s - 1][k - 1]
                )
                for k, key in enumerate(rows.keys, start=1)
                if by_class[s, k].any()
            }
        )
    return overall, by_system, by_key


def _counts_block(by_class: np.ndarray, persons: int, latency: dict[str, Any]) -> dict[str, Any]:
    """One counts block from its rows counted by class (``_CLASS_SHAPE``)."""
    comparisons = int(by_class[:, 1, :].sum())
    mismatches = int(by_class[:, 1, 1].sum())
    block: dict[str, Any] = {
        "persons_compared": int(persons),
        "comparisons": comparisons,
        "mismatches": mismatches,
        "mismatch_rate": _rate(mismatches, comparisons),
    }
    for position, name in enumerate(KIND_COUNTS, start=1):
        block[name] = int(by_class[position].sum())
    block["sync_latency"] = latency
    return block


def _distinct_persons(
    rows: _Comparisons, slot: np.ndarray, shape: tuple[int, int]
) -> tuple[int, np.ndarray, np.ndarray]:
    """Distinct persons among the both-known rows: overall, per system slot and per
    slot (``shape``)."""
    counted = rows.both_known & (rows.person >= 0)
    pairs = rows.person[counted].astype(np.int64, copy=False)  # a copy: indexed
    persons = int(pairs.max()) + 1 if len(pairs) else 0
    size = math.prod(shape)
    pairs *= size
    pairs += slot[counted]
    # A table of flags (a byte per person and slot) is a few passes over memory;
    # hashing tens of millions of pairs costs several times more.
    if persons * size <= max(DENSE_LIMIT, DENSE_BYTES_PER_ROW * len(pairs)):
        seen = np.zeros(persons * size, dtype=bool)
        seen[pairs] = True
        seen = seen.reshape(persons, *shape)
        in_system = seen.any(axis=2)
        return (
            int(np.count_nonzero(in_system.any(axis=1))),
            np.count_nonzero(in_system, axis=0),
            np.count_nonzero(seen, axis=0),
        )
    # Too many persons for a table of flags: hash the pairs, then coarser pairs.
    pairs = pd.unique(pairs)
    in_system = pd.unique(pairs // shape[1])
    return (
        len(pd.unique(in_system // shape[0])),
        np.bincount(in_system % shape[0], minlength=shape[0]),
        np.bincount(pairs % size, minlength=size).reshape(shape),
    )


def _latency_blocks(
    rows: _Comparisons, slot: np.ndarray, shape: tuple[int, int]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """The ``sync_latency`` block overall, per system and per system × key, from
    one sort of the lags by slot."""
    timed_slot = slot[rows.timed]
    size = math.prod(shape)
    counts = np.bincount(timed_slot, minlength=size)
    over = np.bincount(timed_slot[rows.over_sla], minlength=size).reshape(shape)
    # Small integers sort stably by radix sort: one linear pass.
    lags = rows.lag[np.argsort(timed_slot.astype(np.min_scalar_type(size)), kind="stable")]
    ends = np.cumsum(counts).reshape(shape)
    starts = ends - counts.reshape(shape)
    overall = _latency_block(rows.lag, int(np.count_nonzero(rows.over_sla)))
    by_system = [
        _latency_block(lags[starts[s, 0] : ends[s, -1]], over[s].sum()) for s in range(1, shape[0])
    ]
    by_slot = [
        [_latency_block(lags[starts[s, k] : ends[s, k]], over[s, k]) for k in range(1, shape[1])]
        for s in range(1, shape[0])
    ]
    return overall, by_system, by_slot


def compute_metrics(
    compared: pd.DataFrame,
    expected: pd.DataFrame,
    findings: pd.DataFrame,
    observations: pd.DataFrame,
    records: pd.DataFrame,
    person_of_record: pd.Series,
    config: AuditConfig,
    as_of: datetime,
    workers: int = 1,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """All metrics of the run as a JSON-ready dict, and per system the lags
    (seconds) its ``sync_latency`` summarises, for the report's histograms.

    With ``workers`` above 1, the comparisons' rows are coded beside the
    observations' metrics (coverage, audit readiness), then the rows' distinct
    persons beside their latency blocks: each pair reads different data, and
    most of their time is numpy's, which releases the GIL (5M persons: 4.4 s
    on one worker)."""
    missing = findings[findings["kind"] == FindingKind.MISSING_PREFERENCE]
    systems = list(config.systems)

    def of_observations() -> tuple[tuple, float | None, list]:
        coverage = _coverage(expected)
        held, ready = _held_and_ready(observations)
        if config.policy.authorities:
            by_authority = held & _authority_holds(observations, config)
            readiness = _readiness(by_authority, ready & by_authority, None, 1)[0]
        else:
            readiness = _readiness(held, ready, None, 1)[0]
        (observed_system,) = _system_positions([observations["system"]], systems)
        return coverage, readiness, _readiness(held, ready, observed_system, len(systems))

    # The comparisons' rows beside the observations' half (about as long), then
    # the blocks of those rows, themselves in two halves.
    rows, ((coverage, coverage_by_key), readiness, readiness_by_system) = side_by_side(
        [lambda: _comparison_rows(compared, missing, config), of_observations], workers
    )
    overall, per_system, per_system_key = _comparison_blocks(rows, len(systems), workers)
    sync_success = _sync_success(rows, compared, missing, expected, config, as_of)
    timed_system = rows.system[rows.timed]
    sync_lags = {
        system: rows.lag[timed_system == position] for position, system in enumerate(systems)
    }
    overall.update(coverage)
    overall["sync_success_rate"] = sync_success
    overall["audit_readiness"] = readiness
    conflicted = findings.loc[findings["kind"] == FindingKind.IDENTITY_CONFLICT, "person_id"]
    overall["identity_conflicts"] = int(conflicted.nunique())
    overall["unmapped_values"] = int((findings["kind"] == FindingKind.UNMAPPED_VALUE).sum())

    by_system: dict[str, Any] = {}
    for position, system in enumerate(systems):
        entry = per_system[position]
        entry["audit_readiness"] = readiness_by_system[position]
        entry["by_key"] = per_system_key[position]
        by_system[system] = entry
    return {"overall": overall, "by_system": by_system, "by_key": coverage_by_key}, sync_lags


def _coverage(expected: pd.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
    """The coverage block overall and per key (keys sorted)."""
    (state,), names = _shared_codes(expected["expected_state"])
    # As with pandas' !=, a missing expected state is not "unknown": it counts as known.
    known = ~lookup(names == State.UNKNOWN.value, state, False)
    denied = lookup(names == State.DENIED.value, state, False)
    key, keys = _key_ranks(expected)
    with_key = key >= 0
    person_keys = np.bincount(key[with_key], minlength=len(keys))
    known_keys = np.bincount(key[with_key & known], minlength=len(keys))
    denied_keys = np.bincount(key[with_key & denied], minlength=len(keys))
    overall = _coverage_block(len(expected), int(known.sum()), int(denied.sum()))
    by_key = {
        key_text(k): _coverage_block(int(person_keys[r]), int(known_keys[r]), int(denied_keys[r]))
        for r, k in enumerate(keys)
    }
    return overall, by_key


def _coverage_block(person_keys: int, known: int, denied: int) -> dict[str, Any]:
    return {
        "person_keys": person_keys,
        "expected_known": known,
        "expected_denied": denied,
        "coverage": _rate(known, person_keys),
    }


def _sync_success(
    rows: _Comparisons,
    compared: pd.DataFrame,
    missing: pd.DataFrame,
    expected: pd.DataFrame,
    config: AuditConfig,
    as_of: datetime,
) -> float | None:
    """Deciding changes in the window reflected in every system holding the key."""
    start = pd.Timestamp(as_of) - config.policy.sync_window
    in_window = (expected["deciding_at"] >= start) & (
        expected["deciding_at"] <= pd.Timestamp(as_of)
    )
    recent = expected.loc[in_window, GROUP]
    if recent.empty:
        return None
    # Only the few unsynced rows are joined with the recent changes: the same
    # person-keys as joining every held row, then keeping the unsynced ones.
    count = len(compared)
    unsynced = pd.concat(
        [
            compared.loc[rows.unsynced[:count], GROUP],
            missing.loc[rows.unsynced[count:], GROUP],
        ],
        ignore_index=True,
    )
    candidates = recent[recent["person_id"].isin(unsynced["person_id"])]
    failed = unsynced.merge(candidates, on=GROUP).drop_duplicates()
    return _rate(len(recent) - len(failed), len(recent))


# --- audit readiness ---------------------------------------------------------


def _held_and_ready(observations: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per observation: held to the audit standard (a granted or denied state), and
    ready (held, with a timestamp, a capture source and proof)."""
    held = observations["state"].isin(KNOWN_STATES).to_numpy(dtype=bool)
    ready = held & observations["updated_at"].notna().to_numpy(dtype=bool)
    for column in ("capture_source", "proof"):
        # Each test reads only the rows still ready: proofs are ids, costly to read.
        ready = filled(observations[column], ready)
    return held, ready


def _authority_holds(observations: pd.DataFrame, config: AuditConfig) -> np.ndarray:
    """Whether each observation comes from the authority system of its key."""
    columns = ["system", *KEY]
    # The authority depends on the key alone: look it up once per distinct
    # (system, key). Codes shifted by one: a missing part (-1) is a value too.
    factorized = [column_codes(observations[column]) for column in columns]
    number, distinct = _distinct_rows([codes + 1 for codes, _ in factorized])
    values = {
        column: np.concatenate([[np.nan], names]).astype(object)[codes]
        for column, (_, names), codes in zip(columns, factorized, distinct, strict=True)
    }
    authority = authority_of_keys(pd.DataFrame({part: values[part] for part in KEY}), config)
    holds = values["system"] == authority.to_numpy()
    return holds.astype(bool)[number]


def _readiness(
    held: np.ndarray, ready: np.ndarray, group: np.ndarray | None, size: int
) -> list[float | None]:
    """Per group 0 … size-1 of ``group`` (without: all rows): ready observations /
    held ones."""
    if group is None:
        return [_rate(int(np.count_nonzero(ready)), int(np.count_nonzero(held)))]
    in_group = group >= 0
    held_counts = np.bincount(group[held & in_group], minlength=size)
    ready_counts = np.bincount(group[ready & in_group], minlength=size)
    return [_rate(int(r), int(h)) for r, h in zip(ready_counts, held_counts, strict=True)]


def audit_readiness(
    observations: pd.DataFrame, config: AuditConfig, only_authority: bool = True
) -> float | None:
    """Authority observations with a timestamp, capture source and proof / all of them.

    Without any authority configured, every observation is held to the standard.
    """
    held, ready = _held_and_ready(observations)
    if only_authority and config.policy.authorities:
        held = held & _authority_holds(observations, config)
    return _readiness(held, ready & held, None, 1)[0]


# --- identity ----------------------------------------------------------------


def identity_metrics(
    records: pd.DataFrame,
    person_of_record: pd.Series,
    conflicts: pd.DataFrame,
    ignored: pd.DataFrame,
    systems: list[str],
) -> dict[str, Any]:
    """Persons, records, and how well each system's records link to the others."""
    (person,) = _person_codes(person_of_record)
    system, names = column_codes(records["system"])
    # Distinct (person, system) pairs: the systems each person has records in.
    width = max(len(names), 1)
    paired = (person >= 0) & (system >= 0)
    pairs = person[paired].astype(np.int64) * width + system[paired]
    bound = int(person.max()) + 1 if len(person) else 0
    if bound * width <= max(DENSE_LIMIT, DENSE_BYTES_PER_ROW * len(pairs)):
        # A flag per (person, system): a pass over memory, where hashing tens of
        # millions of pairs misses the cache at each one.
        seen = np.zeros(bound * width, dtype=bool)
        seen[pairs] = True
        pairs = np.flatnonzero(seen)
    else:
        pairs = pd.unique(pairs)
    systems_per_person = np.bincount(pairs // width, minlength=bound)
    linked = lookup(systems_per_person > 1, person, False)
    # Ids are below 4 × records (or codes): a flag per id.
    present = np.zeros(bound, dtype=bool)
    present[person[person >= 0]] = True
    records_of = np.bincount(system[system >= 0], minlength=width)
    persons_of = np.bincount(pairs % width, minlength=width)
    linked_of = np.bincount(system[linked & (system >= 0)], minlength=width)
    code_of = {name: code for code, name in enumerate(names)}
    by_system = {}
    for name in systems:
        code = code_of.get(name)
        count = 0 if code is None else int(records_of[code])
        linked_count = 0 if code is None else int(linked_of[code])
        by_system[name] = {
            "records": count,
            "persons": 0 if code is None else int(persons_of[code]),
            "linked_records": linked_count,
            "alone_records": count - linked_count,
            "match_rate": _rate(linked_count, count),
        }
    return {
        "persons": int(np.count_nonzero(present)),
        "records": len(person),
        "identity_conflicts": int(conflicts["person_id"].nunique()) if len(conflicts) else 0,
        "ignored_values": len(ignored),
        "by_system": by_system,
    }
