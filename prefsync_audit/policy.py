"""Stage 4 — expected state: what each person's preference *should* be.

Opting out must work wherever the person does it; opting back in must be
deliberate and provable. For each person and preference key:

1. every observation of the key or of a broader key (``*``) applies;
2. a denial counts from any system; a grant counts from the key's authority
   (or anywhere when the key names none); with ``regrant_requires_evidence``
   a grant later than a counting denial counts only with a capture source or
   proof; a broader grant never overrides a narrower denial;
3. the expected state is the latest counting observation, ties to denied,
   untimed observations older than every timed one;
4. the deciding change is the earliest counting observation of that state
   after the last counting observation of the opposite state.

The same "latest wins, ties and narrower denials win" rule gives each system's
own state for the key.

Everything runs on integer codes (person, key, system) with numpy sorts and
segment reductions: preference keys are few, persons are millions, so keys
are matched once among themselves and never per row. No person's state
depends on another's, so persons are evaluated in batches (``BATCH_ROWS``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from prefsync_audit._codes import (
    code_type,
    column_codes,
    filled,
    first_occurrences,
    isin_integers,
    lookup,
    positions_in_sorted,
)
from prefsync_audit._model import key_covers
from prefsync_audit._threads import ordered_map
from prefsync_audit.config import AuditConfig
from prefsync_audit.vocab import ANY, State

KEY = ["purpose", "channel", "scope"]
GROUP = ["person_id", *KEY]
#: Sort value of an observation without a time: older than every timed one.
UNTIMED = np.iinfo(np.int64).min + 1
_GRANTED, _DENIED, _UNKNOWN = 0, 1, 2
_STATE_CODE = {State.GRANTED.value: _GRANTED, State.DENIED.value: _DENIED}
_STATE_NAME = [State.GRANTED.value, State.DENIED.value, State.UNKNOWN.value]


@dataclass
class Evaluation:
    """Expected and actual states per person and key."""

    expected: pd.DataFrame
    """One row per (person, key): expected_state, deciding_at, deciding_system,
    authority_system, authority_updated_at."""
    system_states: pd.DataFrame
    """One row per (person, key, system) where the system holds the key:
    actual_state, system_updated_at, record_key."""


def key_universe(
    observations: pd.DataFrame, persons_by_system: pd.DataFrame, config: AuditConfig
) -> pd.DataFrame:
    """Every (person, key) to evaluate: keys observed, plus keys a system must hold.

    The key columns are categoricals (one row per person and key, in order of
    first appearance)."""
    key_of_row, keys = _row_keys(observations)
    persons = [observations["person_id"].to_numpy(dtype=np.int64)]
    key_codes = [key_of_row]
    index = {key: code for code, key in enumerate(keys)}
    for system, settings in config.systems.items():
        holders = persons_by_system.loc[persons_by_system["system"] == system, "person_id"]
        for key in settings.must_hold:
            code = index.setdefault(tuple(key), len(index))
            persons.append(holders.to_numpy(dtype=np.int64))
            key_codes.append(np.full(len(holders), code, dtype=np.int64))
    keys = list(index)
    person, key = np.concatenate(persons), np.concatenate(key_codes)
    # One row per (person, key): the first occurrence of each pair.
    first = first_occurrences(person * max(len(keys), 1) + key)
    return _key_frame(person[first], key[first], keys)


def _row_keys(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    """Each row's key as a code into the distinct keys."""
    # Code each key part (a categorical's own codes), combine the part codes
    # into one integer, and decode only the few distinct combinations.
    coded = [_part_codes(frame[part]) for part in KEY]
    part_uniques = [uniques for _, uniques in coded]
    # Narrow integers when the combinations fit: the rows are tens of millions.
    combinations = math.prod(len(uniques) + 1 for uniques in part_uniques)
    dtype = np.int32 if combinations < np.iinfo(np.int32).max else np.int64
    combined = np.zeros(len(frame), dtype=dtype)
    for part_codes, uniques in coded:
        combined = combined * (len(uniques) + 1) + part_codes.astype(dtype, copy=False)
    if len(frame) and combinations < _DENSE_KEYS:
        # Few possible combinations (categoricals): numbered by value, without a hash table.
        present = np.bincount(combined, minlength=1) > 0
        key_of_row = (np.cumsum(present) - 1)[combined]
        distinct = np.flatnonzero(present)
    else:
        key_of_row, distinct = pd.factorize(combined)
    parts = []
    remainder = np.asarray(distinct, dtype=np.int64)
    for uniques in reversed(part_uniques):
        parts.append(uniques[remainder % (len(uniques) + 1)])
        remainder = remainder // (len(uniques) + 1)
    keys = list(zip(*reversed(parts), strict=True))
    return key_of_row, keys


#: Combined key codes below this are numbered through a dense table.
_DENSE_KEYS = 1 << 20


def _part_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(column, use_na_sentinel=False)`` (a missing value is one of
    the uniques), read from a categorical's codes where it is one; a categorical's
    uniques are all its categories, used or not."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        return codes, np.asarray(uniques, dtype=object)
    categories = np.asarray(column.cat.categories, dtype=object)
    codes = column.cat.codes.to_numpy()
    codes = np.where(codes < 0, len(categories), codes)
    return codes, np.append(categories, np.nan)


def _key_frame(
    person: np.ndarray, key: np.ndarray, keys: list[tuple[str, str, str]]
) -> pd.DataFrame:
    """A (person_id, purpose, channel, scope) frame from key codes into ``keys``.

    The key parts are categoricals with sorted categories, so that sorting and
    grouping by them follow the text, and merges on them run on codes."""
    frame: dict[str, object] = {"person_id": person}
    for position, part in enumerate(KEY):
        values = [k[position] for k in keys]
        categories = sorted({v for v in values if v is not None})
        lookup = np.array([categories.index(v) if v is not None else -1 for v in values])
        codes = lookup[key] if len(keys) else np.zeros(0, dtype=np.int64)
        frame[part] = pd.Categorical.from_codes(codes, categories=categories)
    return pd.DataFrame(frame)


def _sortable(key: tuple[str, str, str]) -> tuple:
    """Sort keys by text, a missing part last (as pandas sorts)."""
    return tuple((part is None, part or "") for part in key)


class _KeyCodes:
    """Dense integer ids for the preference keys of a run, in sorted key order,
    so that sorting by id sorts by (purpose, channel, scope). ``rows`` holds the
    key id of each row of each frame it was built from, in that order."""

    def __init__(self, *frames: pd.DataFrame) -> None:
        row_keys = [_row_keys(frame) for frame in frames]
        self.keys = sorted({key for _, keys in row_keys for key in keys}, key=_sortable)
        self.table = pd.DataFrame(self.keys, columns=KEY, dtype="object")
        self.specificity = np.array([sum(p != ANY for p in key) for key in self.keys], np.int8)
        id_of = {key: code for code, key in enumerate(self.keys)}
        self.rows = [
            np.array([id_of[key] for key in keys], dtype=np.int32)[key_of_row]
            if keys
            else np.zeros(0, dtype=np.int32)
            for key_of_row, keys in row_keys
        ]

    def covers(self) -> np.ndarray:
        """Boolean matrix: ``covers[o, u]`` when observed key o applies to key u."""
        size = len(self.keys)
        matrix = np.zeros((size, size), dtype=bool)
        for o, broad in enumerate(self.keys):
            for u, narrow in enumerate(self.keys):
                matrix[o, u] = key_covers(broad, narrow)
        return matrix


def _authority_names(keys: list[tuple[str, str, str]], config: AuditConfig) -> list[str | None]:
    """For each key, its authority system (most specific matching rule), or None."""
    names: list[str | None] = []
    for key in keys:
        best, best_specificity = None, -1
        for rule in config.policy.authorities:
            if key_covers(rule.key, key):
                specificity = sum(part != ANY for part in rule.key)
                if specificity > best_specificity:
                    best, best_specificity = rule.system, specificity
        names.append(best)
    return names


#: Authority code of a key with no authority, and of one whose authority has no rows.
NO_AUTHORITY, ABSENT_AUTHORITY = -1, -2


def _authority_codes(
    keys: list[tuple[str, str, str]], config: AuditConfig, systems: list[str]
) -> np.ndarray:
    """For each key, the code of its authority system among ``systems``; -1 when the
    key has no authority; -2 when its authority is not among them (then no grant
    counts: it must come from the authority)."""
    names = _authority_names(keys, config)
    codes = [
        NO_AUTHORITY
        if name is None
        else systems.index(name)
        if name in systems
        else ABSENT_AUTHORITY
        for name in names
    ]
    return np.array(codes, dtype=np.int16)


def authority_of_keys(keys: pd.DataFrame, config: AuditConfig) -> pd.Series:
    """The authority system of each row's key (most specific matching rule), or NA."""
    if keys.empty:
        return pd.Series([], index=keys.index, dtype="object")
    codes = _KeyCodes(keys)
    per_key = np.array(_authority_names(codes.keys, config), dtype=object)
    return pd.Series(per_key[codes.rows[0]], index=keys.index, dtype="object")


def _time_values(times: pd.Series) -> np.ndarray:
    values = pd.to_datetime(times, utc=True).astype("datetime64[ns, UTC]")
    result = values.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    result[values.isna().to_numpy()] = UNTIMED
    return result


def _group_starts(group: np.ndarray) -> np.ndarray:
    """Positions where a new group begins in an array sorted by group."""
    if len(group) == 0:
        return np.array([], dtype=np.int64)
    return np.flatnonzero(np.r_[True, group[1:] != group[:-1]])


def _segment(values: np.ndarray, group: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.reduceat`` over groups of a sorted array, broadcast back to rows."""
    starts = _group_starts(group)
    if len(starts) == 0:
        return values.copy()
    reduced = ufunc.reduceat(values, starts)
    lengths = np.diff(np.r_[starts, len(group)])
    return np.repeat(reduced, lengths)


def _pick(group: np.ndarray, keys: list[np.ndarray], last: bool) -> np.ndarray:
    """Per group of an array sorted by group: the position of the row that sorting
    the group by ``keys`` (most significant first, ties in array order) puts
    last (``last``) or first. Segment reductions instead of a sort: the rows
    are millions, a sort by several keys costs a pass per key."""
    if len(group) == 0:
        return np.array([], dtype=np.int64)
    starts = _group_starts(group)
    lengths = np.diff(np.r_[starts, len(group)])
    best_of = np.maximum if last else np.minimum
    outside = np.iinfo(np.int64).min if last else np.iinfo(np.int64).max
    candidate = np.ones(len(group), dtype=bool)
    for key in keys:
        # int64 first: the outside value does not fit a narrower code.
        masked = np.where(candidate, key.astype(np.int64, copy=False), outside)
        candidate &= masked == np.repeat(best_of.reduceat(masked, starts), lengths)
    positions = np.arange(len(group), dtype=np.int64)
    return best_of.reduceat(np.where(candidate, positions, outside), starts)


def _drop_overridden_grants(
    idx: np.ndarray, group: np.ndarray, denial: np.ndarray, specificity: np.ndarray
) -> np.ndarray:
    """A broader grant never overrides a narrower denial: rows to keep (sorted by group)."""
    denial_specificity = np.where(denial, specificity, -1).astype(np.int64)
    narrowest_denial = _segment(denial_specificity, group, np.maximum)
    return idx[denial | (specificity >= narrowest_denial)]


#: Observations evaluated at a time, about (whole persons at a time). A batch's
#: arrays (8 MiB per int64 column) come from the heap that the batch before
#: freed: glibc maps arrays over 32 MiB afresh from the kernel for each
#: allocation, which then clears every page again, and on a machine that hands
#: memory free for a few seconds back to its host, faults it in there too
#: (``docs/benchmarks.md``). At 5M persons evaluation took 29 s so, 38 s in
#: batches of 4M rows, 42 s in one.
BATCH_ROWS = 1 << 20


@dataclass
class _Observed:
    """The integer columns evaluation reads, one entry per observation."""

    person: np.ndarray
    key: np.ndarray  # key id of the observation's own key
    system: np.ndarray  # int16
    state: np.ndarray  # int8
    t: np.ndarray
    record_key: np.ndarray
    evidence: np.ndarray  # bool: a capture source or a proof

    def take(self, rows: np.ndarray) -> _Observed:
        """These observations only, in the given order."""
        return _Observed(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def _observed(observations: pd.DataFrame, codes: _KeyCodes) -> _Observed:
    """``observations`` as integer columns; ``codes`` built from (observations, keys)."""
    state_codes, state_names = column_codes(observations["state"])
    state_of_name = np.array([_STATE_CODE.get(n, _UNKNOWN) for n in state_names], np.int64)
    # Small codes in small integers: the pairs made of them are the largest arrays of a run.
    return _Observed(
        person=observations["person_id"].to_numpy(dtype=np.int64),
        key=codes.rows[0].astype(np.int32, copy=False),
        system=observations["system"].cat.codes.to_numpy().astype(np.int16),
        state=lookup(state_of_name, state_codes, _UNKNOWN).astype(np.int8),
        t=_time_values(observations["updated_at"]),
        record_key=observations["record_key"].to_numpy(dtype=np.int64),
        evidence=_has_evidence(observations),
    )


@dataclass
class _Pairs:
    """Each (observation, key it applies to) pair, as parallel arrays."""

    row: np.ndarray  # position of the observation in the ``_Observed`` it came from
    key: np.ndarray  # key id the observation applies to (int32)
    person: np.ndarray
    pk: np.ndarray  # person * n_keys + key: the (person, key) group
    system: np.ndarray  # int16
    state: np.ndarray  # int8
    t: np.ndarray
    specificity: np.ndarray  # of the observation's own key (int8)
    record_key: np.ndarray
    evidence: np.ndarray

    def take(self, order: np.ndarray) -> _Pairs:
        """The pairs in the given order."""
        return _Pairs(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


def _pairs(observed: _Observed, universe: np.ndarray, codes: _KeyCodes) -> _Pairs:
    """The pairs whose (person, key) is in ``universe`` (as person * n_keys + key)."""
    n_keys = len(codes.keys)
    obs_key = observed.key
    covers = codes.covers()
    # Each observation pairs with every key its own key covers...
    targets_of = [np.flatnonzero(covers[o]) for o in range(n_keys)]
    counts = np.array([len(t) for t in targets_of], dtype=np.int64)[obs_key]
    row = np.repeat(np.arange(len(obs_key), dtype=np.int64), counts)
    offsets = np.r_[0, np.cumsum(counts)[:-1]] if len(counts) else np.array([], np.int64)
    position = np.arange(len(row), dtype=np.int64) - np.repeat(offsets, counts)
    flat_targets = np.concatenate(targets_of) if targets_of else np.array([], np.int64)
    starts = np.r_[0, np.cumsum([len(t) for t in targets_of])[:-1]].astype(np.int64)
    key = flat_targets[starts[obs_key[row]] + position] if len(row) else row
    pk = observed.person[row] * n_keys + key
    # ...that its person is evaluated on.
    keep = isin_integers(pk, universe)
    row, key, pk = row[keep], key[keep], pk[keep]
    return _Pairs(
        row=row,
        key=key.astype(np.int32),
        person=observed.person[row],
        pk=pk,
        system=observed.system[row],
        state=observed.state[row],
        t=observed.t[row],
        specificity=codes.specificity[obs_key][row],
        record_key=observed.record_key[row],
        evidence=observed.evidence[row],
    )


def _universe(keys: pd.DataFrame, codes: _KeyCodes) -> np.ndarray:
    """Each (person, key) to evaluate as person * n_keys + key."""
    return keys["person_id"].to_numpy(dtype=np.int64) * len(codes.keys) + codes.rows[1]


def expand_to_keys(observations: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Pair each observation with every key of its person that it applies to
    (a DataFrame view of the pairs, for inspection and tests)."""
    codes = _KeyCodes(observations, keys)
    observations = observations.reset_index(drop=True)
    if not isinstance(observations["system"].dtype, pd.CategoricalDtype):
        observations = observations.assign(system=observations["system"].astype("category"))
    pairs = _pairs(_observed(observations, codes), _universe(keys, codes), codes)
    obs = observations.iloc[pairs.row].rename(columns={k: f"obs_{k}" for k in KEY})
    obs = obs.reset_index(drop=True)
    target = codes.table.iloc[pairs.key].reset_index(drop=True)
    result = pd.concat([obs, target], axis=1)
    result["specificity"] = pairs.specificity
    return result


def evaluate(
    observations: pd.DataFrame, keys: pd.DataFrame, config: AuditConfig, workers: int = 1
) -> Evaluation:
    """Expected state per (person, key) and each system's state for it.

    ``observations`` has person_id, system (categorical), purpose, channel,
    scope, state, updated_at, capture_source, proof and record_key.
    """
    observations = observations.reset_index(drop=True)
    if not isinstance(observations["system"].dtype, pd.CategoricalDtype):
        observations = observations.assign(
            system=pd.Categorical(observations["system"], categories=list(config.systems))
        )
    systems = list(observations["system"].cat.categories)
    codes = _KeyCodes(observations, keys)
    observed = _observed(observations, codes)
    universe = _universe(keys, codes)
    authority_of_key = _authority_codes(codes.keys, config, systems)

    def evaluate_batch(
        rows: tuple[np.ndarray, np.ndarray],
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        observed_rows, universe_rows = rows
        pairs = _pairs(observed.take(observed_rows), universe[universe_rows], codes)
        # One sort, by (person, key, system): every later step reduces over
        # contiguous groups of it (a person's key, or a system's word on it).
        pairs = pairs.take(np.argsort(_system_group(pairs, systems), kind="stable"))
        return _expected(
            pairs, authority_of_key[pairs.key], universe[universe_rows], codes, config
        ), _system_states(pairs, systems)

    # A person's observations and keys are evaluated together, apart from
    # everyone else's: persons are split into batches of about BATCH_ROWS rows,
    # evaluated ``workers`` at a time (numpy's sorts and gathers release the GIL).
    batches = _person_batches(observed.person, universe // max(len(codes.keys), 1))
    results = list(ordered_map(evaluate_batch, batches, workers))
    expected = [batch_expected for batch_expected, _ in results]
    system_states = [batch_states for _, batch_states in results]
    # The frames are made once, from the batches' arrays: text columns made per
    # batch would be copied object by object when joined.
    return Evaluation(
        _expected_frame(_joined(expected), codes, config, systems),
        _states_frame(_joined(system_states), codes, systems),
    )


def _joined(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}


def _person_batches(
    person: np.ndarray, universe_person: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Positions of the observations and of the (person, key) pairs of each batch of
    persons, every person in one batch, each batch's positions in ascending order."""
    if len(person) <= BATCH_ROWS:
        yield np.arange(len(person)), np.arange(len(universe_person))
        return
    size = int(max(person.max(initial=0), universe_person.max(initial=0))) + 1
    rows_per_person = np.bincount(person, minlength=size)
    # A person joins the batch its first row falls in (persons in id order), so a
    # batch passes BATCH_ROWS by at most its last person's rows; a person of more
    # rows than that makes a batch of its own (the numbers skipped are closed up).
    batch_of_person = (np.cumsum(rows_per_person) - rows_per_person) // BATCH_ROWS
    batch_of_person = np.r_[0, np.cumsum(np.diff(batch_of_person) > 0)].astype(np.int32)
    n_batches = int(batch_of_person[-1]) + 1
    yield from zip(
        _rows_by_batch(batch_of_person[person], n_batches),
        _rows_by_batch(batch_of_person[universe_person], n_batches),
        strict=True,
    )


def _rows_by_batch(batch: np.ndarray, n_batches: int) -> list[np.ndarray]:
    """The positions of each batch's rows, ascending: one stable sort of the batch
    numbers (numpy sorts 8- and 16-bit integers by radix). A pass over every row
    per batch would grow with the square of the rows (31 passes over 31M rows at
    5M persons)."""
    order = np.argsort(batch.astype(code_type(n_batches), copy=False), kind="stable")
    return np.split(order, np.cumsum(np.bincount(batch, minlength=n_batches))[:-1])


def _has_evidence(observations: pd.DataFrame) -> np.ndarray:
    """A capture source or a proof, not blank. Proofs are ids (costly to read):
    only rows without a capture source read them."""
    every = np.ones(len(observations), dtype=bool)
    with_source = filled(observations["capture_source"], every)
    return with_source | filled(observations["proof"], ~with_source)


def _named(table: list[str | None], codes: np.ndarray) -> pd.Series:
    """``table[codes]`` as a categorical, missing where the name is None (or the
    code is -1): a byte per row where text would take a pointer, and compared,
    joined and counted by its codes. The few names are coded, not the rows."""
    names = [name for name in dict.fromkeys(table) if name is not None]
    position = {name: code for code, name in enumerate(names)}
    code_of = np.array([position.get(name, -1) for name in [*table, None]], dtype=np.int16)
    coded = code_of[codes].astype(code_type(len(names)), copy=False)
    return pd.Series(pd.Categorical.from_codes(coded, categories=names), copy=False)


def _utc(values: np.ndarray) -> pd.Series:
    """int64 nanoseconds (UNTIMED = missing) → UTC timestamps."""
    # One pass: NaT is int64's minimum.
    stamps = np.where(
        values == UNTIMED, np.iinfo(np.int64).min, values.astype(np.int64, copy=False)
    )
    return pd.Series(stamps.view("datetime64[ns]")).dt.tz_localize("UTC")


def _system_group(pairs: _Pairs, systems: list[str]) -> np.ndarray:
    """(person, key, system) as one integer that sorts in that order."""
    return pairs.pk * max(len(systems), 1) + pairs.system


def _system_states(pairs: _Pairs, systems: list[str]) -> dict[str, np.ndarray]:
    """Each system's state per (person, key), sorted so; ``pairs`` sorted by
    (person, key, system)."""
    group = _system_group(pairs, systems)
    known = pairs.state != _UNKNOWN
    denial = pairs.state == _DENIED

    idx = np.flatnonzero(known)
    idx = _drop_overridden_grants(idx, group[idx], denial[idx], pairs.specificity[idx])
    # The latest word; at the same time a denial, then the later record.
    latest = idx[_pick(group[idx], [pairs.t[idx], denial[idx], pairs.record_key[idx]], last=True)]

    # A system whose only word on the key is an unknown value holds it as unknown.
    unknown = np.flatnonzero(~known)
    unknown = unknown[~_sorted_isin(group[unknown], group[latest])]
    unknown = unknown[
        _pick(group[unknown], [pairs.t[unknown], pairs.record_key[unknown]], last=True)
    ]

    chosen = np.r_[latest, unknown].astype(np.int64)
    chosen = chosen[np.argsort(group[chosen])]
    return {
        "person": pairs.person[chosen],
        "key": pairs.key[chosen],
        "system": pairs.system[chosen],
        "state": pairs.state[chosen],
        "t": pairs.t[chosen],
        "record_key": pairs.record_key[chosen],
    }


def _sorted_isin(values: np.ndarray, sorted_table: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_table)`` for a table sorted ascending."""
    return positions_in_sorted(sorted_table, values) >= 0


def _states_frame(
    columns: dict[str, np.ndarray], codes: _KeyCodes, systems: list[str]
) -> pd.DataFrame:
    states = _key_frame(columns["person"], columns["key"], codes.keys)
    states["system"] = pd.Categorical.from_codes(columns["system"], categories=systems)
    states["actual_state"] = _named(_STATE_NAME, columns["state"])
    states["system_updated_at"] = _utc(columns["t"])
    states["record_key"] = columns["record_key"]
    return states


def _expected(
    pairs: _Pairs,
    authority: np.ndarray,
    universe: np.ndarray,
    codes: _KeyCodes,
    config: AuditConfig,
) -> dict[str, np.ndarray]:
    """The expected state of each (person, key) of ``universe`` (person * n_keys +
    key), sorted so, from its pairs (sorted by person, key and system);
    ``authority`` is the authority code of each pair's key."""
    denial = pairs.state == _DENIED
    known = pairs.state != _UNKNOWN
    from_authority = (authority == NO_AUTHORITY) | (pairs.system == authority)
    counting = known & (denial | from_authority)
    idx = np.flatnonzero(counting)  # contiguous per (person, key): pairs are sorted
    if config.policy.regrant_requires_evidence:
        group = pairs.pk[idx]
        denial_time = np.where(denial[idx], pairs.t[idx], np.iinfo(np.int64).max)
        first_denial = _segment(denial_time, group, np.minimum)
        later_grant = ~denial[idx] & (pairs.t[idx] > first_denial)
        idx = idx[~later_grant | pairs.evidence[idx]]
    idx = _drop_overridden_grants(idx, pairs.pk[idx], denial[idx], pairs.specificity[idx])

    group = pairs.pk[idx]
    # The latest counting word; at the same time a denial, then system and record.
    decided = idx[
        _pick(
            group,
            [pairs.t[idx], denial[idx], pairs.system[idx], pairs.record_key[idx]],
            last=True,
        )
    ]
    expected_of_row = np.repeat(
        pairs.state[decided], np.diff(np.r_[_group_starts(group), len(group)])
    )
    same = pairs.state[idx] == expected_of_row
    opposite_time = np.where(~same, pairs.t[idx], np.iinfo(np.int64).min)
    last_opposite = _segment(opposite_time, group, np.maximum)
    after = same & (
        (pairs.t[idx] > last_opposite) | ((pairs.t[idx] == last_opposite) & denial[idx])
    )
    candidates = idx[after]
    # The earliest of those; at the same time the first system, then record.
    deciding = candidates[
        _pick(
            pairs.pk[candidates],
            [pairs.t[candidates], pairs.system[candidates], pairs.record_key[candidates]],
            last=False,
        )
    ]

    # The (person, key) pairs to evaluate, sorted by person then key: one sort of
    # their combined integer (each pair is there once).
    pk = np.sort(universe)
    state = np.full(len(pk), _UNKNOWN, dtype=np.int8)
    state[np.searchsorted(pk, pairs.pk[decided])] = pairs.state[decided]
    deciding_time = np.full(len(pk), UNTIMED, dtype=np.int64)
    deciding_system = np.full(len(pk), -1, dtype=np.int16)
    at = np.searchsorted(pk, pairs.pk[deciding])
    deciding_time[at] = pairs.t[deciding]
    deciding_system[at] = pairs.system[deciding]
    # The authority's own latest word on the key, whatever it said.
    from_auth = np.flatnonzero(known & (pairs.system == authority))
    latest_time = np.full(len(pk), UNTIMED, dtype=np.int64)
    if len(from_auth):
        at = np.searchsorted(pk, pairs.pk[from_auth])
        np.maximum.at(latest_time, at, pairs.t[from_auth])
    return {
        "pk": pk,
        "state": state,
        "deciding_time": deciding_time,
        "deciding_system": deciding_system,
        "authority_time": latest_time,
    }


def _expected_frame(
    columns: dict[str, np.ndarray], codes: _KeyCodes, config: AuditConfig, systems: list[str]
) -> pd.DataFrame:
    n_keys = max(len(codes.keys), 1)
    universe_key = columns["pk"] % n_keys
    expected = _key_frame(columns["pk"] // n_keys, universe_key, codes.keys)
    expected["expected_state"] = _named(_STATE_NAME, columns["state"])
    expected["deciding_at"] = _utc(columns["deciding_time"])
    expected["deciding_system"] = _named(systems, columns["deciding_system"])
    expected["authority_system"] = _named(_authority_names(codes.keys, config), universe_key)
    expected["authority_updated_at"] = _utc(columns["authority_time"])
    return expected
