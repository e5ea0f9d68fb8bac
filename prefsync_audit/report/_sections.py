"""Words of the report: definitions, the policy in plain sentences, thresholds, scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefsync_audit._model import key_text
from prefsync_audit.config import AuditConfig
from prefsync_audit.mapping import Mapping, StateFromColumn
from prefsync_audit.report import _format as fmt
from prefsync_audit.vocab import FindingKind

#: metric → (label, value kind, definition). Order is the order in the reports.
METRIC_DEFINITIONS: dict[str, tuple[str, str, str]] = {
    "mismatch_rate": (
        "mismatch rate",
        "rate",
        "Comparisons (person × key × system, both states known) where the system's state "
        "differs from the expected state, over all such comparisons.",
    ),
    "suppression_gaps": (
        "suppression gaps",
        "count",
        "A system still treats the person as reachable after an opt-out older than its SLA.",
    ),
    "pending_syncs": (
        "pending syncs",
        "count",
        "An opt-out not applied yet, still within the SLA: in flight, not a failure.",
    ),
    "unverified_resubscribes": (
        "unverified re-subscribes",
        "count",
        "A grant newer than the opt-out that does not count (no evidence, or not the authority).",
    ),
    "over_suppression": (
        "over-suppression",
        "count",
        "A system blocks a person whose latest counting choice was a grant.",
    ),
    "unconfirmed_grants": (
        "unconfirmed grants",
        "count",
        "A system says granted where no counting observation exists anywhere.",
    ),
    "missing_preferences": (
        "missing preferences",
        "count",
        "A system that must hold a key knows the person but has no state for it.",
    ),
    "sync_latency.p50": (
        "sync latency p50",
        "duration",
        "Median time agreeing systems took to reflect the deciding change.",
    ),
    "sync_latency.p95": (
        "sync latency p95",
        "duration",
        "95th percentile of the same lags.",
    ),
    "sync_latency.over_sla": (
        "lags over the SLA",
        "count",
        "Agreeing states that arrived later than their system's SLA.",
    ),
    "sync_success_rate": (
        "sync success rate",
        "rate",
        "Deciding changes within the sync window that every holding system reflects.",
    ),
    "coverage": (
        "coverage",
        "rate",
        "Person-keys with a known expected state (some counting observation), over all.",
    ),
    "audit_readiness": (
        "audit readiness",
        "rate",
        "Authority observations carrying a timestamp, capture source and proof, over all.",
    ),
    "identity_conflicts": (
        "identity conflicts",
        "count",
        "Persons holding two or more values of a strong key (e.g. two customer numbers).",
    ),
    "unmapped_values": (
        "unmapped values",
        "count",
        "Values outside a mapping's vocabulary, counted as unknown — never as a grant.",
    ),
    "quarantined_rows": (
        "quarantined rows",
        "count",
        "Input rows that could not be used (unreadable, no usable identifier), with a reason.",
    ),
}

KIND_DEFINITIONS: dict[FindingKind, str] = {
    FindingKind.SUPPRESSION_GAP: "Expected denied, the system says granted, and the opt-out is "
    "older than the SLA.",
    FindingKind.PENDING_SYNC: "Expected denied, the system says granted, the opt-out is still "
    "within the SLA.",
    FindingKind.UNVERIFIED_RESUBSCRIBE: "Expected denied, the system shows a newer grant that "
    "did not count (no evidence, or not the authority).",
    FindingKind.OVER_SUPPRESSION: "Expected granted, the system says denied.",
    FindingKind.UNCONFIRMED_GRANT: "The system says granted; no counting observation exists.",
    FindingKind.MISSING_PREFERENCE: "A system that must hold the key knows the person but has "
    "no state for it.",
    FindingKind.IDENTITY_CONFLICT: "One person holds two values of a strong key.",
    FindingKind.UNMAPPED_VALUE: "A value outside the mapping's vocabulary (counted as unknown).",
}


@dataclass(frozen=True)
class ThresholdLine:
    """One configured threshold, in numbers and in words."""

    metric: str
    scope: str
    value: str
    warn: str
    fail: str
    status: str
    sentence: str
    fails_run: bool
    """Its status reaches the ``--fail-on`` level: it makes the run exit 1."""
    breached_level: float | None
    """The level its status comes from (None when it passes)."""


FAILING = {"fail": {"fail"}, "warn": {"warn", "fail"}, "never": set()}


def threshold_lines(thresholds: list[dict[str, Any]], fail_on: str) -> list[ThresholdLine]:
    lines = []
    for t in thresholds:
        metric, status = t["metric"], t["status"]
        value = fmt.metric_value(metric, t["value"])
        warn, fail = fmt.metric_value(metric, t["warn"]), fmt.metric_value(metric, t["fail"])
        subject = f"{metric} ({t['scope']}) = {value}"
        if status == "pass":
            sentence = f"{subject}: within the levels (warn {warn}, fail {fail})"
        else:
            level = fmt.metric_value(metric, t[status])
            sentence = f"{subject}: {fmt.breach_words(metric)} the {status} level {level}"
        lines.append(
            ThresholdLine(
                metric=metric,
                scope=t["scope"],
                value=value,
                warn=warn,
                fail=fail,
                status=status,
                sentence=sentence,
                fails_run=status in FAILING[fail_on],
                breached_level=None if status == "pass" else t[status],
            )
        )
    return lines


def is_membership(mapping: Mapping) -> bool:
    """Every preference is a fixed state: presence in the export is the state
    (an ad audience, a suppression list)."""
    return all(
        rule.list is None and not isinstance(rule.state, StateFromColumn)
        for rule in mapping.preferences
    )


@dataclass(frozen=True)
class SystemScope:
    """One audited system as the scope section describes it."""

    name: str
    description: str
    export: str
    layout: str
    identifiers: list[str]
    must_hold: list[str]
    sla: str


def system_scopes(config: AuditConfig) -> list[SystemScope]:
    scopes = []
    for name, settings in config.systems.items():
        mapping = config.mapping_of(name)
        scopes.append(
            SystemScope(
                name=name,
                description=settings.description or "",
                export=mapping.description or "",
                layout="membership list" if is_membership(mapping) else "preference columns",
                identifiers=[
                    f"{kind} ({spec.column})" for kind, spec in mapping.identifiers.items()
                ],
                must_hold=[key_text(k) for k in settings.must_hold],
                sla=fmt.duration_words(config.latency_sla_of(name).total_seconds()),
            )
        )
    return scopes


def policy_sentences(config: AuditConfig) -> list[str]:
    """The policy the audit applied, in words a compliance reader can check."""
    policy = config.policy
    sentences = ["An opt-out counts from whichever system recorded it."]
    if policy.authorities:
        rules = ", ".join(f"{a.system} for {key_text(a.key)}" for a in policy.authorities)
        sentences.append(
            f"A grant counts only from the key's source of truth: {rules}. "
            "Keys without a source of truth take a grant from any system."
        )
    else:
        sentences.append("No source of truth is configured: a grant counts from any system.")
    if policy.regrant_requires_evidence:
        sentences.append(
            "A grant made after a counting opt-out counts only if it carries a capture "
            "source or proof of consent."
        )
    else:
        sentences.append("A grant made after an opt-out counts even without evidence.")
    sentences.append(
        "The expected state is the latest counting choice; a tie goes to the opt-out, and "
        "a choice without a time is older than every timed one. A broader opt-out (all "
        "channels) covers every narrower key; a broader grant never overrides a narrower "
        "opt-out."
    )
    sla = fmt.duration_words(policy.latency_sla.total_seconds())
    overrides = [
        f"{name}: {fmt.duration_words(s.latency_sla.total_seconds())}"
        for name, s in config.systems.items()
        if s.latency_sla is not None
    ]
    sentences.append(
        f"Every system must apply an opt-out within {sla}"
        + (f" (except {', '.join(overrides)})" if overrides else "")
        + "; past that, a system still reaching the person has a suppression gap."
    )
    sentences.append(
        f"Sync success counts the deciding changes of the "
        f"{fmt.duration_words(policy.sync_window.total_seconds())} before the as-of time."
    )
    for name, settings in config.systems.items():
        if settings.must_hold:
            keys = ", ".join(key_text(k) for k in settings.must_hold)
            sentences.append(f"{name} must hold a state for {keys} for every person it knows.")
    identity = config.identity
    sentences.append(
        "Records sharing an identifier are one person; "
        f"two values of {', '.join(identity.strong_keys) or 'a strong key'} on one person "
        "are an identity conflict; placeholder identifiers and values linking more than "
        f"{identity.max_records_per_value} records are not used to link."
    )
    return sentences
