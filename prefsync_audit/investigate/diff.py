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


def _agreement(pairs: pd.DataFrame) -> Agreement:
    known = pairs["state_a"].isin(KNOWN) & pairs["state_b"].isin(KNOWN)
    agreeing = int((known & (pairs["state_a"] == pairs["state_b"])).sum())
    both = int(known.sum())
    rate = round(agreeing / both, 6) if both else None
    return Agreement(len(pairs), both, agreeing, rate)


def diff_systems(
    source: Source,
    system_a: str,
    system_b: str,
    purpose: str | None = None,
    channel: str | None = None,
    sample: int = 5,
    reveal: bool = False,
) -> SystemDiff:
    """Compare ``system_a`` with ``system_b``, optionally on one purpose or channel."""
    check_systems(source, system_a, system_b)
    if system_a == system_b:
        raise InvestigationError(f"diff needs two different systems (got {system_a!r} twice)")
    states = source.system_states(systems=[system_a, system_b])
    if purpose:
        states = states[states["purpose"] == purpose]
    if channel:
        states = states[states["channel"] == channel]
    group = ["person_id", *KEY]
    sides = {}
    for name, system in (("state_a", system_a), ("state_b", system_b)):
        side = states.loc[states["system"] == system, [*group, "actual_state"]]
        sides[name] = side.rename(columns={"actual_state": name}).drop_duplicates(group)
    keys_a = set(map(tuple, sides["state_a"][KEY].drop_duplicates().to_numpy().tolist()))
    keys_b = set(map(tuple, sides["state_b"][KEY].drop_duplicates().to_numpy().tolist()))
    shared = sorted(keys_a & keys_b)
    pairs = sides["state_a"].merge(sides["state_b"], on=group, how="outer")
    pairs[["state_a", "state_b"]] = pairs[["state_a", "state_b"]].fillna(ABSENT)
    if len(pairs):
        pairs = pairs[pd.MultiIndex.from_frame(pairs[KEY]).isin(shared)]
    pairs = pairs.sort_values(group, ignore_index=True)

    by_key = dict(iter(pairs.groupby(KEY, sort=True))) if len(pairs) else {}
    diffs = []
    disagreeing_all = []
    for key in shared:
        text = "/".join(key)
        rows = by_key[key]
        counts = rows.groupby(["state_a", "state_b"]).size()
        crosstab = {a: {b: int(counts.get((a, b), 0)) for b in STATES} for a in STATES}
        differ = rows[
            rows["state_a"].isin(KNOWN)
            & rows["state_b"].isin(KNOWN)
            & (rows["state_a"] != rows["state_b"])
        ]
        disagreeing_all.append(differ.head(sample))
        diffs.append(KeyDiff(text, _agreement(rows), crosstab, len(differ), []))
    _fill_samples(source, diffs, disagreeing_all, reveal)
    return SystemDiff(
        system_a=system_a,
        system_b=system_b,
        source=source.info.label,
        as_of=source.info.as_of,
        purpose=purpose,
        channel=channel,
        keys=diffs,
        overall=_agreement(pairs),
        only_a=["/".join(k) for k in sorted(keys_a - keys_b)],
        only_b=["/".join(k) for k in sorted(keys_b - keys_a)],
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
            DisagreeingPerson(int(p), described[int(p)], str(a), str(b))
            for p, a, b in zip(frame["person_id"], frame["state_a"], frame["state_b"], strict=True)
        ]
