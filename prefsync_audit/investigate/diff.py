"""``diff``: how two systems' copies of the same preferences compare, key by key.

For every preference key both systems hold for someone, each person with a state
in either system is counted in a cross-tab of the two states — ``granted``,
``denied``, ``unknown`` (a value the mapping could not read) or ``absent`` (the
system holds no state for the key) — with the agreement rate over persons whose
state is known in both, and a sample of persons where the two disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prefsync_audit.investigate.errors import InvestigationError, UnknownSystemError
from prefsync_audit.investigate.identifiers import describe_person
from prefsync_audit.investigate.source import Source
from prefsync_audit.policy import KEY
from prefsync_audit.vocab import State

ABSENT = "absent"
#: Row and column order of the cross-tab.
STATES = [State.GRANTED.value, State.DENIED.value, State.UNKNOWN.value, ABSENT]
KNOWN = (State.GRANTED.value, State.DENIED.value)


@dataclass
class DisagreeingPerson:
    """A person whose known states differ between the two systems."""

    person_id: int
    identifiers: str
    """Masked unless revealed."""
    state_a: str
    state_b: str


@dataclass
class Agreement:
    """Counts behind an agreement rate."""

    persons: int
    """Persons with a state in at least one of the two systems."""
    both_known: int
    """Persons granted or denied in both."""
    agreeing: int
    agreement_rate: float | None
    """``agreeing / both_known``; ``None`` when nobody is known in both."""


@dataclass
class KeyDiff:
    """The cross-tab of one preference key."""

    key: str
    agreement: Agreement
    crosstab: dict[str, dict[str, int]]
    """State in system A → state in system B → persons (every state in both)."""
    disagreeing: int
    sample: list[DisagreeingPerson]


@dataclass
class SystemDiff:
    """Two systems compared over every key they share."""

    system_a: str
    system_b: str
    source: str
    as_of: str | None
    purpose: str | None
    channel: str | None
    keys: list[KeyDiff]
    overall: Agreement
    only_a: list[str] = field(default_factory=list)
    """Keys only system A holds (for anyone): nothing to compare."""
    only_b: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``diff --format json``)."""
        return asdict(self)


def check_systems(source: Source, *names: str) -> None:
    """Raise :class:`UnknownSystemError` for a name the run does not know."""
    known = source.info.systems
    for name in names:
        if name not in known:
            raise UnknownSystemError(
                f"unknown system {name!r} in {source.info.label} (known: {', '.join(known)})"
            )


def _agreement(crosstab: np.ndarray) -> Agreement:
    """Counts from a 4×4 cross-tab in :data:`STATES` order."""
    known = crosstab[:2, :2]
    agreeing = int(np.trace(known))
    both = int(known.sum())
    rate = round(agreeing / both, 6) if both else None
    return Agreement(int(crosstab.sum()), both, agreeing, rate)


def _state_codes(states: pd.Series) -> np.ndarray:
    """Each state's position in :data:`STATES` (anything unexpected counts as unknown)."""
    codes, uniques = pd.factorize(states)
    unknown = STATES.index(State.UNKNOWN.value)
    lookup = np.array([STATES.index(u) if u in STATES else unknown for u in uniques] + [unknown])
    return lookup[codes]  # a missing state (code -1) is unknown too


def _key_codes(states: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    """A code per row for its (purpose, channel, scope), and the key of each code."""
    levels = [pd.factorize(states[part]) for part in KEY]
    combined = np.zeros(len(states), dtype=np.int64)
    for codes, uniques in levels:
        combined = combined * (len(uniques) + 1) + (codes + 1)
    distinct, inverse = np.unique(combined, return_inverse=True)
    keys = []
    for value in distinct:
        parts = []
        for _codes, uniques in reversed(levels):
            value, code = divmod(int(value), len(uniques) + 1)
            parts.append(str(uniques[code - 1]))
        keys.append((parts[2], parts[1], parts[0]))
    return inverse.astype(np.int64), keys


def diff_systems(
    source: Source,
    system_a: str,
    system_b: str,
    purpose: str | None = None,
    channel: str | None = None,
    sample: int = 5,
    reveal: bool = False,
) -> SystemDiff:
    """Compare ``system_a`` with ``system_b``, optionally on one purpose or channel.

    Works on integer codes (key, state) so a run of millions of persons is a
    few vectorized passes.
    """
    check_systems(source, system_a, system_b)
    if system_a == system_b:
        raise InvestigationError(f"diff needs two different systems (got {system_a!r} twice)")
    states = source.system_states(systems=[system_a, system_b])
    keep = np.ones(len(states), dtype=bool)
    if purpose:
        keep &= (states["purpose"] == purpose).to_numpy(dtype=bool, na_value=False)
    if channel:
        keep &= (states["channel"] == channel).to_numpy(dtype=bool, na_value=False)
    states = states[keep]
    key_codes, keys = _key_codes(states)
    frame = pd.DataFrame(
        {
            "person_id": states["person_id"].to_numpy(dtype=np.int64),
            "key": key_codes,
            "state": _state_codes(states["actual_state"]),
            "is_a": (states["system"] == system_a).to_numpy(dtype=bool, na_value=False),
        }
    )
    side_a = frame[frame["is_a"]].drop_duplicates(["person_id", "key"])
    side_b = frame[~frame["is_a"]].drop_duplicates(["person_id", "key"])
    held_a, held_b = set(side_a["key"].unique()), set(side_b["key"].unique())
    shared = sorted(held_a & held_b, key=lambda code: keys[code])
    absent = STATES.index(ABSENT)
    pairs = side_a[["person_id", "key", "state"]].merge(
        side_b[["person_id", "key", "state"]],
        on=["person_id", "key"],
        how="outer",
        suffixes=("_a", "_b"),
    )
    pairs = pairs[pairs["key"].isin(shared)]
    a = pairs["state_a"].fillna(absent).to_numpy(dtype=np.int64)
    b = pairs["state_b"].fillna(absent).to_numpy(dtype=np.int64)
    code = pairs["key"].to_numpy(dtype=np.int64)
    size = len(STATES)
    counts = np.bincount(code * size * size + a * size + b, minlength=len(keys) * size * size)
    counts = counts.reshape(len(keys) or 1, size, size) if len(keys) else np.zeros((0, size, size))
    differ = (a < 2) & (b < 2) & (a != b)
    disagreeing = pairs.assign(state_a=a, state_b=b)[differ]
    disagreeing = disagreeing.sort_values(["key", "person_id"], kind="stable")
    samples = dict(iter(disagreeing.groupby("key", sort=False))) if len(disagreeing) else {}
    diffs, sampled = [], []
    for key in shared:
        table = counts[key]
        crosstab = {
            STATES[i]: {STATES[j]: int(table[i, j]) for j in range(size)} for i in range(size)
        }
        rows = samples.get(key, disagreeing.iloc[:0])
        sampled.append(rows.head(sample))
        diffs.append(KeyDiff("/".join(keys[key]), _agreement(table), crosstab, len(rows), []))
    _fill_samples(source, diffs, sampled, reveal)
    overall = counts[shared].sum(axis=0) if shared else np.zeros((size, size), dtype=np.int64)
    return SystemDiff(
        system_a=system_a,
        system_b=system_b,
        source=source.info.label,
        as_of=source.info.as_of,
        purpose=purpose,
        channel=channel,
        keys=diffs,
        overall=_agreement(overall),
        only_a=sorted("/".join(keys[k]) for k in held_a - held_b),
        only_b=sorted("/".join(keys[k]) for k in held_b - held_a),
    )


def _fill_samples(
    source: Source, diffs: list[KeyDiff], samples: list[pd.DataFrame], reveal: bool
) -> None:
    persons = sorted({int(p) for frame in samples for p in frame["person_id"]})
    records = source.records(persons) if persons else pd.DataFrame({"person_id": []})
    kinds = source.settings.kinds
    described = {
        person: describe_person(records[records["person_id"] == person], kinds, reveal)
        for person in persons
    }
    for diff, frame in zip(diffs, samples, strict=True):
        diff.sample = [
            DisagreeingPerson(int(p), described[int(p)], STATES[int(a)], STATES[int(b)])
            for p, a, b in zip(frame["person_id"], frame["state_a"], frame["state_b"], strict=True)
        ]
