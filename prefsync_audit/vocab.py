"""Named choices shared by every stage: states, finding kinds, severities.

Kept as ``StrEnum`` so values read naturally in DataFrames, JSON and YAML while
code still gets one spelling checked by the type checker.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A preference state. Absence from an export is never a state."""

    GRANTED = "granted"
    DENIED = "denied"
    UNKNOWN = "unknown"


class FindingKind(StrEnum):
    SUPPRESSION_GAP = "suppression_gap"
    PENDING_SYNC = "pending_sync"
    UNVERIFIED_RESUBSCRIBE = "unverified_resubscribe"
    OVER_SUPPRESSION = "over_suppression"
    UNCONFIRMED_GRANT = "unconfirmed_grant"
    MISSING_PREFERENCE = "missing_preference"
    IDENTITY_CONFLICT = "identity_conflict"
    UNMAPPED_VALUE = "unmapped_value"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Status(StrEnum):
    """The headline status of a run, decided by the thresholds."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


DEFAULT_SEVERITY: dict[FindingKind, Severity] = {
    FindingKind.SUPPRESSION_GAP: Severity.CRITICAL,
    FindingKind.PENDING_SYNC: Severity.INFO,
    FindingKind.UNVERIFIED_RESUBSCRIBE: Severity.CRITICAL,
    FindingKind.OVER_SUPPRESSION: Severity.WARNING,
    FindingKind.UNCONFIRMED_GRANT: Severity.WARNING,
    FindingKind.MISSING_PREFERENCE: Severity.WARNING,
    FindingKind.IDENTITY_CONFLICT: Severity.WARNING,
    FindingKind.UNMAPPED_VALUE: Severity.WARNING,
}

#: Wildcard for channel, scope (and purpose): "all of them".
ANY = "*"

#: The channels of the canonical schema.
CHANNELS = ("email", "sms", "push", "phone", "mail", "web", ANY)

#: Identifier kinds every mapping may declare, strongest first. The order
#: decides which identifier anchors a person's stable finding ids.
IDENTIFIER_KINDS = (
    "customer_id",
    "email",
    "phone",
    "device_id",
    "email_sha256",
    "phone_sha256",
)

#: How each identifier kind is normalized unless the mapping says otherwise.
DEFAULT_NORMALIZER = {
    "customer_id": "id",
    "email": "email",
    "phone": "phone",
    "device_id": "id",
    "email_sha256": "sha256",
    "phone_sha256": "sha256",
}
