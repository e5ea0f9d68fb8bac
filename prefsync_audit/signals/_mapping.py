"""Map decoded signals onto the project's preference taxonomy.

Defaults follow STANDARDS.md ("Mapping signals to the taxonomy"): TCF purpose
1 → ``storage``; 2-4 and 7 → ``advertising``; 5-6 → ``personalization``; 8-9
→ ``analytics``; special feature 1 → ``precise_geolocation``; US sale/sharing
opt-outs → ``sale_sharing``; targeted-advertising opt-out → ``advertising``;
GPC → ``sale_sharing`` and ``advertising`` denied; Consent Mode advertising
types → ``advertising``, ``analytics_storage`` → ``analytics``. Every choice is
a field of :class:`SignalMapping` so a config can override it.

Within one decoded signal a purpose gets one state: several inputs for the same
purpose (SaleOptOut and SharingOptOut, or two GPP sections) combine with
denied > granted > unknown, the same asymmetry the audit policy applies --
an opt-out anywhere wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from prefsync_audit.signals._us_sections import UsPrivacySection
from prefsync_audit.signals.consent_mode import ConsentModeSignal
from prefsync_audit.signals.gpc import GpcSignal
from prefsync_audit.signals.gpp import GppString
from prefsync_audit.signals.tcf import TCString
from prefsync_audit.signals.usp import UspString

PreferenceState = Literal["granted", "denied", "unknown"]
Preference = tuple[str, PreferenceState]
DecodedSignal = TCString | GppString | UspString | GpcSignal | ConsentModeSignal

_RANK: dict[PreferenceState, int] = {"unknown": 0, "granted": 1, "denied": 2}
# US Privacy opt-out-of-sale: Y opted out, N did not, - not applicable.
_USP_STATES: dict[str, PreferenceState] = {"Y": "denied", "N": "granted", "-": "unknown"}


@dataclass(frozen=True)
class SignalMapping:
    """Which taxonomy purpose each signal field feeds (defaults from STANDARDS.md)."""

    tcf_purposes: Mapping[str, tuple[int, ...]] = field(
        default_factory=lambda: {
            "storage": (1,),
            "advertising": (2, 3, 4, 7),
            "personalization": (5, 6),
            "analytics": (8, 9),
        }
    )
    """Purpose → TCF purposes; granted only if every listed purpose has consent."""
    tcf_special_features: Mapping[str, tuple[int, ...]] = field(
        default_factory=lambda: {"precise_geolocation": (1,)}
    )
    """Purpose → TCF special features; granted only if every one is opted in."""
    us_sale_sharing: str = "sale_sharing"
    """Purpose fed by SaleOptOut and SharingOptOut of GPP US sections."""
    us_targeted_advertising: str = "advertising"
    """Purpose fed by TargetedAdvertisingOptOut of GPP US sections."""
    usp_opt_out_sale: str = "sale_sharing"
    """Purpose fed by the US Privacy opt-out-of-sale flag."""
    gpc: tuple[str, ...] = ("sale_sharing", "advertising")
    """Purposes a set GPC flag (or a GPP Gpc bit) denies."""
    consent_mode: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "advertising": ("ad_storage", "ad_user_data", "ad_personalization"),
            "analytics": ("analytics_storage",),
        }
    )
    """Purpose → Consent Mode types; granted only if every present type is granted."""


DEFAULT_MAPPING = SignalMapping()


def to_preferences(
    decoded: DecodedSignal | UsPrivacySection, mapping: SignalMapping = DEFAULT_MAPPING
) -> list[Preference]:
    """Turn a decoded signal into ``(purpose, state)`` pairs, one per purpose."""
    if isinstance(decoded, TCString):
        pairs = _tcf(decoded, mapping)
    elif isinstance(decoded, GppString):
        pairs = [
            pair
            for section in decoded.sections
            if section.data is not None
            for pair in to_preferences(section.data, mapping)
        ]
    elif isinstance(decoded, UsPrivacySection):
        pairs = _us_section(decoded, mapping)
    elif isinstance(decoded, UspString):
        pairs = [(mapping.usp_opt_out_sale, _USP_STATES[decoded.opt_out_sale])]
    elif isinstance(decoded, GpcSignal):
        # An absent/unset GPC flag is no preference at all, never a grant.
        pairs = [(purpose, "denied") for purpose in mapping.gpc] if decoded.opt_out else []
    elif isinstance(decoded, ConsentModeSignal):
        pairs = _consent_mode(decoded, mapping)
    else:
        raise TypeError(f"not a decoded signal: {type(decoded).__name__}")
    return _merge(pairs)


def _merge(pairs: Iterable[Preference]) -> list[Preference]:
    """One state per purpose, first-seen order; denied > granted > unknown."""
    merged: dict[str, PreferenceState] = {}
    for purpose, state in pairs:
        current = merged.get(purpose)
        if current is None or _RANK[state] > _RANK[current]:
            merged[purpose] = state
    return list(merged.items())


def _tcf(tc: TCString, mapping: SignalMapping) -> list[Preference]:
    pairs: list[Preference] = []
    for purpose, ids in mapping.tcf_purposes.items():
        if tc.purpose_one_treatment and 1 in ids:
            # Purpose 1 was not disclosed at all, so its 0 bit is not a refusal.
            pairs.append((purpose, "unknown"))
        else:
            pairs.append((purpose, "granted" if set(ids) <= tc.purposes_consent else "denied"))
    for purpose, features in mapping.tcf_special_features.items():
        opted_in = set(features) <= tc.special_feature_opt_ins
        pairs.append((purpose, "granted" if opted_in else "denied"))
    return pairs


def _opt_out_state(values: Iterable[int | None]) -> PreferenceState | None:
    """1 = opted out → denied; 2 = did not opt out → granted; 0 = n/a → unknown.

    None when the section has none of the fields (the state's law has no such
    right), so that no pair is produced at all.
    """
    present = [value for value in values if value is not None]
    if not present:
        return None
    if 1 in present:
        return "denied"
    if 2 in present:
        return "granted"
    return "unknown"


def _us_section(section: UsPrivacySection, mapping: SignalMapping) -> list[Preference]:
    candidates = [
        (mapping.us_sale_sharing, _opt_out_state((section.sale_opt_out, section.sharing_opt_out))),
        (mapping.us_targeted_advertising, _opt_out_state((section.targeted_advertising_opt_out,))),
    ]
    pairs: list[Preference] = [(purpose, state) for purpose, state in candidates if state]
    if section.gpc:
        # The Gpc bit relays the browser's GPC signal: the same opt-out as a
        # Sec-GPC header, and it wins over "did not opt out" when merged.
        pairs += [(purpose, "denied") for purpose in mapping.gpc]
    return pairs


def _consent_mode(signal: ConsentModeSignal, mapping: SignalMapping) -> list[Preference]:
    states = signal.states()
    pairs: list[Preference] = []
    for purpose, types in mapping.consent_mode.items():
        present = [states[name] for name in types if name in states]
        if present:
            pairs.append((purpose, "denied" if "denied" in present else "granted"))
    return pairs
