"""Decoders for consent signals: TCF v2, GPP, US Privacy, GPC and Consent Mode.

Each decoder takes the text as found in an export and returns a frozen
dataclass, or raises :class:`~prefsync_audit.errors.SignalDecodeError` naming
the reason and the bit or character position -- never another exception and
never a best guess. The package needs only the standard library.

>>> from prefsync_audit.signals import decode, to_preferences
>>> to_preferences(decode("usp", "1YYN"))
[('sale_sharing', 'denied')]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals._mapping import (
    DEFAULT_MAPPING,
    DecodedSignal,
    Preference,
    PreferenceState,
    SignalMapping,
    to_preferences,
)
from prefsync_audit.signals._serialize import to_dict
from prefsync_audit.signals._us_sections import UsPrivacySection
from prefsync_audit.signals.consent_mode import (
    CONSENT_TYPES,
    ConsentModeSignal,
    decode_consent_mode,
)
from prefsync_audit.signals.gpc import GpcSignal, decode_gpc
from prefsync_audit.signals.gpp import GppSection, GppString, decode_gpp
from prefsync_audit.signals.tcf import PublisherRestriction, PublisherTC, TCString, decode_tcf
from prefsync_audit.signals.usp import UspString, decode_usp

SignalKind = Literal["tcf", "gpp", "usp", "gpc", "consent_mode"]
SIGNAL_KINDS: tuple[str, ...] = get_args(SignalKind)

_DECODERS: dict[str, Callable[[str], DecodedSignal]] = {
    "tcf": decode_tcf,
    "gpp": decode_gpp,
    "usp": decode_usp,
    "gpc": decode_gpc,
    "consent_mode": decode_consent_mode,
}


def decode(kind: SignalKind, text: str | None) -> DecodedSignal:
    """Decode ``text`` as a signal of ``kind``: tcf, gpp, usp, gpc or consent_mode.

    ``None`` is accepted only for ``gpc``, where an absent flag is a valid
    "no preference"; for the other kinds it is a decode error.
    """
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise SignalDecodeError(
            f"unknown signal kind {kind!r}; expected one of {', '.join(SIGNAL_KINDS)}"
        )
    return decoder(text)  # type: ignore[arg-type]  # non-gpc decoders reject None themselves


__all__ = [
    "CONSENT_TYPES",
    "DEFAULT_MAPPING",
    "SIGNAL_KINDS",
    "ConsentModeSignal",
    "DecodedSignal",
    "GpcSignal",
    "GppSection",
    "GppString",
    "Preference",
    "PreferenceState",
    "PublisherRestriction",
    "PublisherTC",
    "SignalDecodeError",
    "SignalKind",
    "SignalMapping",
    "TCString",
    "UsPrivacySection",
    "UspString",
    "decode",
    "decode_consent_mode",
    "decode_gpc",
    "decode_gpp",
    "decode_tcf",
    "decode_usp",
    "to_dict",
    "to_preferences",
]
