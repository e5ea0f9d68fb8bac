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
are matched once among themselves and never per row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from prefsync_audit._codes import column_codes, filled, lookup
from prefsync_audit._model import key_covers
from prefsync_audit.config import AuditConfig
from prefsync_audit.vocab import ANY, State

KEY = ["purpose", "channel", "scope"]
GROUP = ["person_id", *KEY]
#: Sort value of an observation without a time: older than every timed one.
UNTIMED = np.iinfo(np.int64).min + 1
_GRANTED, _DENIED, _UNKNOWN = 0, 1, 2
_STATE_CODE = {State.GRANTED.value: _GRANTED, State.DENIED.value: _DENIED}
_STATE_NAME = np.array([State.GRANTED.value, State.DENIED.value, State.UNKNOWN.value], object)


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
    first = ~pd.Series(person * max(len(keys), 1) + key).duplicated().to_numpy()
    return _key_frame(person[first], key[first], keys)


def _row_keys(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    """Each row's key as a code into the distinct keys (in order of first appearance)."""
    # Factorize each key part (cheap on categoricals), combine the part codes
    # into one integer, and decode only the few distinct combinations.
    combined = np.zeros(len(frame), dtype=np.int64)
    part_uniques = []
    for part in KEY:
        part_codes, uniques = pd.factorize(frame[part], use_na_sentinel=False)
        combined = combined * (len(uniques) + 1) + part_codes
        part_uniques.append(np.asarray(uniques, dtype=object))
    key_of_row, distinct = pd.factorize(combined)
    parts = []
    remainder = np.asarray(distinct, dtype=np.int64)
    for uniques in reversed(part_uniques):
        parts.append(uniques[remainder % (len(uniques) + 1)])
        remainder = remainder // (len(uniques) + 1)
    keys = list(zip(*reversed(parts), strict=True))
    return key_of_row.astype(np.int64), keys


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
            np.array([id_of[key] for key in keys], dtype=np.int64)[key_of_row]
            if keys
            else np.zeros(0, dtype=np.int64)
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


@dataclass
class _Pairs:
    """Each (observation, key it applies to) pair, as parallel arrays."""

    row: np.ndarray  # position in the observations frame
    key: np.ndarray  # key id the observation applies to (int32)
    person: np.ndarray
    pk: np.ndarray  # person * n_keys + key: the (person, key) group
    system: np.ndarray  # int16
    state: np.ndarray  # int8
    t: np.ndarray
    specificity: np.ndarray  # of the observation's own key (int8)
    record_key: np.ndarray

    def take(self, order: np.ndarray) -> _Pairs:
        """The pairs in the given order."""
        return _Pairs(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


def _pairs(observations: pd.DataFrame, keys: pd.DataFrame, codes: _KeyCodes) -> _Pairs:
    """The pairs; ``codes`` built from (observations, keys)."""
    n_keys = len(codes.keys)
    obs_key, key_of_universe = codes.rows
    person = observations["person_id"].to_numpy(dtype=np.int64)
    covers = codes.covers()
    # Each observation pairs with every key its own key covers...
    targets_of = [np.flatnonzero(covers[o]) for o in range(n_keys)]
    counts = np.array([len(t) for t in targets_of], dtype=np.int64)[obs_key]
    row = np.repeat(np.arange(len(observations), dtype=np.int64), counts)
    offsets = np.r_[0, np.cumsum(counts)[:-1]] if len(counts) else np.array([], np.int64)
    position = np.arange(len(row), dtype=np.int64) - np.repeat(offsets, counts)
    flat_targets = np.concatenate(targets_of) if targets_of else np.array([], np.int64)
    starts = np.r_[0, np.cumsum([len(t) for t in targets_of])[:-1]].astype(np.int64)
    key = flat_targets[starts[obs_key[row]] + position] if len(row) else row
    pk = person[row] * n_keys + key
    # ...that its person is evaluated on.
    universe = keys["person_id"].to_numpy(dtype=np.int64) * n_keys + key_of_universe
    keep = pd.Series(pk).isin(universe).to_numpy()  # a hash lookup, no sort
    row, key, pk = row[keep], key[keep], pk[keep]
    state_codes, state_names = column_codes(observations["state"])
    state_of_name = np.array([_STATE_CODE.get(n, _UNKNOWN) for n in state_names], np.int64)
    state = lookup(state_of_name, state_codes, _UNKNOWN)
    # Small codes in small integers: the pairs are the largest arrays of a run.
    return _Pairs(
        row=row,
        key=key.astype(np.int32),
        person=person[row],
        pk=pk,
        system=observations["system"].cat.codes.to_numpy().astype(np.int16)[row],
        state=state.astype(np.int8)[row],
        t=_time_values(observations["updated_at"])[row],
        specificity=codes.specificity[obs_key][row],
        record_key=observations["record_key"].to_numpy(dtype=np.int64)[row],
    )


def expand_to_keys(observations: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Pair each observation with every key of its person that it applies to
    (a DataFrame view of the pairs, for inspection and tests)."""
    codes = _KeyCodes(observations, keys)
    observations = observations.reset_index(drop=True)
    if not isinstance(observations["system"].dtype, pd.CategoricalDtype):
        observations = observations.assign(system=observations["system"].astype("category"))
    pairs = _pairs(observations, keys, codes)
    obs = observations.iloc[pairs.row].rename(columns={k: f"obs_{k}" for k in KEY})
    obs = obs.reset_index(drop=True)
    target = codes.table.iloc[pairs.key].reset_index(drop=True)
    result = pd.concat([obs, target], axis=1)
    result["specificity"] = pairs.specificity
    return result


def evaluate(observations: pd.DataFrame, keys: pd.DataFrame, config: AuditConfig) -> Evaluation:
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
    pairs = _pairs(observations, keys, codes)
    # One sort, by (person, key, system): every later step reduces over
    # contiguous groups of it (a person's key, or a system's word on it).
    pairs = pairs.take(np.argsort(_system_group(pairs, systems), kind="stable"))
    authority = _authority_codes(codes.keys, config, systems)[pairs.key]
    evidence = _has_evidence(observations)[pairs.row]

    system_states = _system_states(pairs, codes, systems)
    expected = _expected(pairs, authority, evidence, keys, codes, config, systems)
    return Evaluation(expected, system_states)


def _has_evidence(observations: pd.DataFrame) -> np.ndarray:
    """A capture source or a proof, not blank. Proofs are ids (costly to read):
    only rows without a capture source read them."""
    every = np.ones(len(observations), dtype=bool)
    with_source = filled(observations["capture_source"], every)
    return with_source | filled(observations["proof"], ~with_source)


def _text(table: np.ndarray, codes: np.ndarray) -> pd.Series:
    """``table[codes]`` as an object column of text, missing values as NaN
    (assigning a bare array would convert it to Arrow strings and back). The
    few names of the table are cleaned, not the millions of rows."""
    names = np.array([np.nan if name is None else name for name in table], dtype=object)
    return pd.Series(names[codes], dtype="object", copy=False)


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


def _system_states(pairs: _Pairs, codes: _KeyCodes, systems: list[str]) -> pd.DataFrame:
    """Each system's state per (person, key); ``pairs`` sorted by (person, key, system)."""
    group = _system_group(pairs, systems)
    known = pairs.state != _UNKNOWN
    denial = pairs.state == _DENIED

    idx = np.flatnonzero(known)
    idx = _drop_overridden_grants(idx, group[idx], denial[idx], pairs.specificity[idx])
    # The latest word; at the same time a denial, then the later record.
    latest = idx[_pick(group[idx], [pairs.t[idx], denial[idx], pairs.record_key[idx]], last=True)]

    # A system whose only word on the key is an unknown value holds it as unknown.
    unknown = np.flatnonzero(~known)
    unknown = unknown[~np.isin(group[unknown], group[latest])]
    unknown = unknown[
        _pick(group[unknown], [pairs.t[unknown], pairs.record_key[unknown]], last=True)
    ]

    chosen = np.r_[latest, unknown].astype(np.int64)
    chosen = chosen[np.argsort(group[chosen])]
    states = _key_frame(pairs.person[chosen], pairs.key[chosen], codes.keys)
    states["system"] = pd.Categorical.from_codes(pairs.system[chosen], categories=systems)
    states["actual_state"] = _text(_STATE_NAME, pairs.state[chosen])
    states["system_updated_at"] = _utc(pairs.t[chosen])
    states["record_key"] = pairs.record_key[chosen]
    return states


def _expected(
    pairs: _Pairs,
    authority: np.ndarray,
    evidence: np.ndarray,
    keys: pd.DataFrame,
    codes: _KeyCodes,
    config: AuditConfig,
    systems: list[str],
) -> pd.DataFrame:
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
        idx = idx[~later_grant | evidence[idx]]
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
    n_keys = max(len(codes.keys), 1)
    pk = np.sort(keys["person_id"].to_numpy(dtype=np.int64) * n_keys + codes.rows[1])
    universe_key = pk % n_keys
    expected = _key_frame(pk // n_keys, universe_key, codes.keys)

    state = np.full(len(pk), _UNKNOWN, dtype=np.int64)
    at = np.searchsorted(pk, pairs.pk[decided])
    state[at] = pairs.state[decided]
    expected["expected_state"] = _text(_STATE_NAME, state)
    deciding_time = np.full(len(pk), UNTIMED, dtype=np.int64)
    deciding_system = np.full(len(pk), -1, dtype=np.int64)
    at = np.searchsorted(pk, pairs.pk[deciding])
    deciding_time[at] = pairs.t[deciding]
    deciding_system[at] = pairs.system[deciding]
    names = np.array([*systems, None], dtype=object)
    expected["deciding_at"] = _utc(deciding_time)
    expected["deciding_system"] = _text(names, deciding_system)

    authority_of_key = np.array(_authority_names(codes.keys, config), dtype=object)
    expected["authority_system"] = _text(authority_of_key, universe_key)
    # The authority's own latest word on the key, whatever it said.
    from_auth = np.flatnonzero(known & (pairs.system == authority))
    latest_time = np.full(len(pk), UNTIMED, dtype=np.int64)
    if len(from_auth):
        at = np.searchsorted(pk, pairs.pk[from_auth])
        np.maximum.at(latest_time, at, pairs.t[from_auth])
    expected["authority_updated_at"] = _utc(latest_time)
    return expected
