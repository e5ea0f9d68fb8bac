"""The answer of ``trace`` as data: one person, their identifiers, records and keys.

Built by :func:`prefsync_audit.investigate.trace.trace_person`; drawn by
:mod:`prefsync_audit.investigate.render`; :meth:`PersonTrace.to_dict` is what
``trace --format json`` prints (every field below, in this order).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RecordRef:
    """One record of the person: where it came from."""

    system: str
    source_file: str
    source_row: int | None
    record_id: str | None
    """The system's own record id (masked unless revealed)."""
    identifiers: str
    """The identifiers the record holds, ``kind=value`` (masked unless revealed)."""


@dataclass
class Holder:
    """A record holding an identifier value, as such or derived (a hash of its email)."""

    system: str
    source_file: str
    source_row: int | None
    via: str | None = None
    """``None`` when the record holds the value; ``"email:google"`` when the value is the
    SHA-256 of the record's email under Google's rule."""


@dataclass
class LinkedIdentifier:
    """One identifier value of the person and the records it joins."""

    kind: str
    value: str
    """Masked unless revealed."""
    records: list[Holder]
    linking: str
    """``links N records``, ``on one record``, or why it was not used for linking."""
    matched: bool = False
    """The input identifier matched this value."""


@dataclass
class TimelineEntry:
    """One observation applying to a key, in time order, with its weight in the policy."""

    updated_at: str | None
    system: str
    state: str
    raw_value: str | None
    observed_key: str
    source_file: str | None
    source_row: int | None
    capture_source: str | None
    proof: str | None
    counts: bool
    reason: str
    decides: bool
    deciding_change: bool


@dataclass
class SystemVerdict:
    """One system's state for a key against the expected state."""

    system: str
    actual_state: str | None
    """``None`` when the system holds no state (``missing_preference``)."""
    system_updated_at: str | None
    verdict: str
    """``agrees``, ``not_compared`` or the finding kind (``suppression_gap``…)."""
    severity: str | None = None
    finding_id: str | None = None
    lag_seconds: float | None = None
    """For a finding, the finding's lag; for an agreeing state, the system's lag
    behind the deciding change."""


@dataclass
class KeyTrace:
    """One preference key of the person."""

    key: str
    expected_state: str
    rule: str
    explanation: str
    authority_system: str | None
    deciding_at: str | None
    deciding_system: str | None
    timeline: list[TimelineEntry]
    systems: list[SystemVerdict]
    consistent: bool = True
    """False if replaying the policy disagrees with the run's expected state."""


@dataclass
class FindingRef:
    """A finding of the person, as in ``findings.parquet``."""

    finding_id: str
    kind: str
    severity: str
    system: str | None
    key: str | None
    detail: str
    source_file: str | None
    source_row: int | None


@dataclass
class PersonTrace:
    """Everything about one person, ready to render."""

    input: str
    source: str
    as_of: str | None
    person_id: int
    anchor: str | None
    matched: list[str]
    identity_conflict: str | None
    identifiers: list[LinkedIdentifier]
    records: list[RecordRef]
    keys: list[KeyTrace]
    findings: list[FindingRef]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``trace --format json``)."""
        return asdict(self)
