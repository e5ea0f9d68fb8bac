"""Drift rates: how often each problem is planted, and how to set them.

A rate is the share of generated persons that get one planted case of that
kind (a case can yield several findings: a denial that reached neither
Mailchimp nor Salesforce is two suppression gaps). Noise rates (spellings,
late but agreeing syncs) are shares of the rows they apply to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from prefsync_audit.errors import AuditError


@dataclass(frozen=True)
class DriftRates:
    """Planted drift, per person unless said otherwise."""

    suppression_gap: float = 0.012
    """Opt-out older than the SLA that a system still shows as a grant (email, SMS, ads,
    and global "all marketing" opt-outs that also stop calls and texts)."""
    pending_sync: float = 0.004
    """The same, with the opt-out still inside the SLA (in flight)."""
    unverified_resubscribe: float = 0.003
    """A grant newer than the deciding opt-out that does not count (not the authority, or
    the authority's own grant without capture source or proof)."""
    over_suppression: float = 0.003
    """A system still denied after a re-consent with evidence at the authority."""
    unconfirmed_grant: float = 0.003
    """A system grants although no counting observation exists (imported contacts)."""
    missing_preference: float = 0.003
    """Mailchimp knows the person (a "cleaned" bounce) but holds no status."""
    identity_conflict: float = 0.002
    """A second Salesforce contact with another customer number and the same email."""
    unmapped_value: float = 0.001
    """A value outside the vocabulary (``HasOptedOutOfEmail=Maybe``, OneTrust ``PAUSED``)."""
    untimed_denial: float = 0.0
    """A OneTrust opt-out without any date, then a timed grant elsewhere (a DESIGN edge
    case: the untimed denial is older than every timed observation)."""
    quarantined_row: float = 0.001
    """Rows the audit must quarantine: an impossible ``LastModifiedDate``, an unquoted
    comma in OneTrust's ``Collection Point`` (CSV only)."""
    placeholder_email: float = 0.01
    """Salesforce contacts with a placeholder email (``noemail@…``, ``test@test.com``)."""
    shared_phone: float = 0.004
    """Contacts carrying the store's phone number; planted only when more contacts share it
    than ``identity.max_records_per_value`` (else it would really link them)."""
    newsletter_only: float = 0.04
    """People only in Mailchimp and OneTrust (not customers)."""
    ads_only: float = 0.01
    """Audience members that match nobody (an old loyalty list)."""
    late_sync: float = 0.04
    """Share of agreeing Salesforce syncs that take longer than the SLA (latency only)."""
    email_spelling: float = 0.55
    """Share of Salesforce emails not written as the normalized address (case, spaces)."""
    phone_spelling: float = 0.8
    """Share of Salesforce phones not written in E.164."""

    #: Rates that each take a share of the persons (their sum must stay at or below 1).
    PER_PERSON = (
        "suppression_gap",
        "pending_sync",
        "unverified_resubscribe",
        "over_suppression",
        "unconfirmed_grant",
        "missing_preference",
        "identity_conflict",
        "unmapped_value",
        "untimed_denial",
        "quarantined_row",
        "placeholder_email",
        "shared_phone",
        "newsletter_only",
        "ads_only",
    )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def parse_drift(text: str | None, base: DriftRates | None = None) -> DriftRates:
    """``"suppression_gap=0.02,pending_sync=0.01"`` on top of ``base`` (the defaults)."""
    rates = base or DriftRates()
    if not text or not text.strip():
        return rates
    known = {f.name for f in fields(DriftRates)}
    updates: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise AuditError(
                f"--drift: {item.strip()!r} is not NAME=RATE with NAME one of "
                + ", ".join(sorted(known))
            )
        try:
            rate = float(value)
        except ValueError:
            raise AuditError(f"--drift: {name}={value.strip()!r} is not a number") from None
        if not 0.0 <= rate <= 1.0:
            raise AuditError(f"--drift: {name}={rate} is not between 0 and 1")
        updates[name] = rate
    rates = replace(rates, **updates)
    check_rates(rates)
    return rates


def check_rates(rates: DriftRates) -> None:
    total = sum(getattr(rates, name) for name in DriftRates.PER_PERSON)
    if total > 1.0:
        raise AuditError(
            f"--drift: the per-person rates add up to {total:.3f}, more than 1 "
            f"({', '.join(DriftRates.PER_PERSON)})"
        )
