"""Why a person's preference key has its expected state: the policy, step by step.

:mod:`prefsync_audit.policy` decides expected states for everyone at once with
grouped pandas. For one person the same rules are replayed here observation by
observation, so each can be labelled with *why* it counts or not:

1. every observation of the key or of a broader key applies;
2. a denial counts from any system; a grant counts from the key's authority, or
   from anywhere when the key names none;
3. with ``regrant_requires_evidence``, a grant later than the first counting
   denial counts only with a capture source or proof;
4. a broader grant never overrides a narrower denial;
5. the latest counting observation decides, ties to denied, untimed
   observations older than every timed one; the deciding change is the
   earliest counting observation of that state after the last one of the
   opposite state.

The ordering keys (time, denial, system in config order, record) are the ones
``policy._latest`` sorts by, so the deciding observation is the pipeline's.
The test suite checks this replay against :func:`prefsync_audit.policy.evaluate`
on every policy case and every person of the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pandas as pd

from prefsync_audit.vocab import ANY, State

#: Sort value of an observation without a time (as in ``policy.UNTIMED``).
UNTIMED = -1


class Rule(StrEnum):
    """The rule that decided a key's expected state."""

    LATEST = "latest"
    """The latest counting observation."""
    AUTHORITY = "authority"
    """The deciding grant came from the key's authority (grants count only from it)."""
    MOST_RESTRICTIVE = "most_restrictive"
    """A grant and a denial at the same time: the denial wins."""
    BROADER_KEY = "broader_key"
    """A broader key's observation decided (a global opt-out), or a broader grant
    could not override a narrower denial."""
    UNVERIFIED_RESUBSCRIBE = "unverified_resubscribe_not_counted"
    """A grant after the opt-out did not count: not from the authority, or (from
    the authority) without capture source or proof."""
    NO_COUNTING_OBSERVATION = "no_counting_observation"
    """Nothing counts: the expected state is unknown."""


class Reason(StrEnum):
    """Why one observation counts, or not, for one key."""

    DENIAL = "denial: counts from any system"
    AUTHORITY_GRANT = "grant from the key's authority: counts"
    GRANT_WITHOUT_AUTHORITY = "grant: counts (the key names no authority)"
    NOT_AUTHORITY = "grant from a system that is not the key's authority: does not count"
    UNVERIFIED_REGRANT = (
        "grant after a counting denial without capture source or proof: does not count"
    )
    OVERRIDDEN_BY_NARROWER_DENIAL = "broader grant under a narrower denial: does not count"
    NOT_A_STATE = "unknown value: not a state, never counts"


@dataclass
class Step:
    """One observation as it applies to one key, with its verdict under the policy."""

    record_key: int
    system: str
    observed_key: tuple[str, str, str]
    """The key the observation was made on (broader than the key, or equal)."""
    state: str
    updated_at: pd.Timestamp | None
    capture_source: str | None
    proof: str | None
    raw_value: str | None = None
    source_file: str | None = None
    source_row: int | None = None
    broader: bool = False
    """Made on a broader key than the one explained (``channel: *`` for an email key)."""
    counts: bool = False
    reason: Reason = Reason.NOT_A_STATE
    decides: bool = False
    """This is the latest counting observation: it sets the expected state."""
    deciding_change: bool = False
    """The expected state began here (DESIGN §5.4)."""

    @property
    def t(self) -> int:
        return UNTIMED if self.updated_at is None else int(self.updated_at.value)

    @property
    def is_denial(self) -> bool:
        return self.state == State.DENIED

    @property
    def specificity(self) -> int:
        return sum(part != ANY for part in self.observed_key)

    @property
    def has_evidence(self) -> bool:
        return any(isinstance(v, str) and v.strip() for v in (self.capture_source, self.proof))


@dataclass
class KeyExplanation:
    """The expected state of one key and how the policy reached it."""

    key: tuple[str, str, str]
    authority: str | None
    expected_state: str
    rule: Rule
    explanation: str
    steps: list[Step] = field(default_factory=list)
    """Every applying observation, oldest first (untimed first)."""

    @property
    def decider(self) -> Step | None:
        return next((s for s in self.steps if s.decides), None)

    @property
    def deciding(self) -> Step | None:
        return next((s for s in self.steps if s.deciding_change), None)


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def steps_for_key(
    observations: pd.DataFrame | list[dict[str, Any]], key: tuple[str, str, str]
) -> list[Step]:
    """One person's observations that apply to ``key`` (its own and broader keys).

    ``observations`` (a frame, or its ``to_dict("records")`` when asked for many
    keys) has the canonical columns (``record_key, system, purpose, channel,
    scope, state, updated_at, capture_source, proof``), and optionally
    ``raw_value``, ``source_file`` and ``source_row`` for display.
    """
    if isinstance(observations, pd.DataFrame):
        observations = observations.to_dict("records")
    steps = []
    for row in observations:
        observed = (str(row["purpose"]), str(row["channel"]), str(row["scope"]))
        if not all(o in (k, ANY) for o, k in zip(observed, key, strict=True)):
            continue
        stamp = row["updated_at"]
        source_row = row.get("source_row")
        steps.append(
            Step(
                record_key=int(row["record_key"]),
                system=str(row["system"]),
                observed_key=observed,
                state=str(row["state"]),
                updated_at=None if pd.isna(stamp) else pd.Timestamp(stamp).tz_convert("UTC"),
                capture_source=_text(row.get("capture_source")),
                proof=_text(row.get("proof")),
                raw_value=_text(row.get("raw_value")),
                source_file=_text(row.get("source_file")),
                source_row=None if source_row is None or pd.isna(source_row) else int(source_row),
            )
        )
    return steps


def _when(step: Step) -> str:
    if step.updated_at is None:
        return "with no time (older than every timed observation)"
    return "at " + step.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _what(step: Step) -> str:
    on = f" on the broader key {'/'.join(step.observed_key)}" if step.broader else ""
    return f"{step.system} {step.state}{on} {_when(step)}"


def explain_key(
    key: tuple[str, str, str],
    steps: list[Step],
    authority: str | None,
    regrant_requires_evidence: bool,
    system_order: list[str],
) -> KeyExplanation:
    """Label each applying observation and name the rule that decided ``key``.

    ``steps`` are the observations applying to ``key`` (its own and broader
    ones); ``system_order`` is the config's system order (the pipeline's tie
    order after time and denial).
    """
    rank = {name: i for i, name in enumerate(system_order)}

    def latest_order(s: Step) -> tuple[int, bool, int, int]:
        return (s.t, s.is_denial, rank.get(s.system, len(rank)), s.record_key)

    steps = sorted(steps, key=latest_order)
    counting: list[Step] = []
    for step in steps:
        step.broader = step.observed_key != key
        if step.state not in (State.GRANTED, State.DENIED):
            step.reason = Reason.NOT_A_STATE
        elif step.is_denial:
            step.reason = Reason.DENIAL
        elif authority is None:
            step.reason = Reason.GRANT_WITHOUT_AUTHORITY
        elif step.system == authority:
            step.reason = Reason.AUTHORITY_GRANT
        else:
            step.reason = Reason.NOT_AUTHORITY
        step.counts = step.reason in (
            Reason.DENIAL,
            Reason.GRANT_WITHOUT_AUTHORITY,
            Reason.AUTHORITY_GRANT,
        )
        if step.counts:
            counting.append(step)
    denial_times = [s.t for s in counting if s.is_denial]
    if regrant_requires_evidence and denial_times:
        first_denial = min(denial_times)
        for step in counting:
            if not step.is_denial and step.t > first_denial and not step.has_evidence:
                step.counts, step.reason = False, Reason.UNVERIFIED_REGRANT
        counting = [s for s in counting if s.counts]
    narrowest = max((s.specificity for s in counting if s.is_denial), default=-1)
    for step in counting:
        if not step.is_denial and step.specificity < narrowest:
            step.counts, step.reason = False, Reason.OVERRIDDEN_BY_NARROWER_DENIAL
    counting = [s for s in counting if s.counts]

    if not counting:
        return KeyExplanation(
            key,
            authority,
            State.UNKNOWN.value,
            Rule.NO_COUNTING_OBSERVATION,
            _no_counting(steps, authority),
            steps,
        )
    decider = max(counting, key=latest_order)
    decider.decides = True
    expected = decider.state
    opposite = [s.t for s in counting if s.state != expected]
    last_opposite = max(opposite, default=UNTIMED - 1)
    after = [
        s
        for s in counting
        if s.state == expected and (s.t > last_opposite or (s.t == last_opposite and s.is_denial))
    ]
    deciding = min(after, key=lambda s: (s.t, rank.get(s.system, len(rank)), s.record_key))
    deciding.deciding_change = True
    rule, text = _rule(decider, steps, counting, authority)
    return KeyExplanation(key, authority, expected, rule, text, steps)


def _no_counting(steps: list[Step], authority: str | None) -> str:
    if not steps:
        return "No system holds a state for this key: the expected state is unknown."
    if any(s.reason == Reason.NOT_AUTHORITY for s in steps):
        return (
            f"No observation counts: grants count only from the authority ({authority}), "
            "which holds none, and no system recorded a denial. Expected state unknown."
        )
    return "No observation counts (only unknown values): the expected state is unknown."


def _rule(
    decider: Step, steps: list[Step], counting: list[Step], authority: str | None
) -> tuple[Rule, str]:
    """The rule that explains the outcome best: a rule that beat a later
    observation first, else the plain "latest counting observation"."""
    latest = f"The latest counting observation is {_what(decider)}"
    later_dropped = [s for s in steps if not s.counts and s.t > decider.t and not s.is_denial]
    later_dropped = [s for s in later_dropped if s.reason != Reason.NOT_A_STATE]
    tie = [s for s in counting if s.t == decider.t and s.state != decider.state]
    if tie and decider.is_denial:
        grant = tie[-1]
        return Rule.MOST_RESTRICTIVE, (
            f"{latest}; {grant.system} granted at the same time: a tie goes to denied "
            "(the most restrictive)."
        )
    if decider.is_denial:
        resubscribes = [
            s
            for s in later_dropped
            if s.reason in (Reason.NOT_AUTHORITY, Reason.UNVERIFIED_REGRANT)
        ]
        if resubscribes:
            newest = resubscribes[-1]
            why = (
                f"grants of this key count only from its authority, {authority}"
                if newest.reason == Reason.NOT_AUTHORITY
                else "it carries no capture source or proof"
            )
            return Rule.UNVERIFIED_RESUBSCRIBE, (
                f"{latest}. The later grant from {_what(newest)} came after the opt-out "
                f"and does not count: {why}."
            )
        overriding = [s for s in later_dropped if s.reason == Reason.OVERRIDDEN_BY_NARROWER_DENIAL]
        if overriding:
            return Rule.BROADER_KEY, (
                f"{latest}. The later grant from {_what(overriding[-1])} is on a broader key "
                "and never overrides a narrower denial."
            )
    if decider.broader:
        what = "an opt-out" if decider.is_denial else "a grant"
        return Rule.BROADER_KEY, f"{latest}: {what} on a broader key applies to every narrower key."
    if not decider.is_denial and authority is not None and decider.system == authority:
        return Rule.AUTHORITY, f"{latest}: a grant from the key's authority counts."
    why = "a denial counts from any system" if decider.is_denial else "the key names no authority"
    return Rule.LATEST, f"{latest} ({why})."
