"""Guess which kind of consent string a text is, for ``prefsync-audit decode``.

Only the shape is used (never a trial decode that could "succeed" on the
wrong kind): a GPP string starts with its header, whose first six bits (type
3) encode as ``D``; a US Privacy string is four characters starting with
``1``; Consent Mode is ``name=value`` pairs or a JSON object; a GPC flag is a
boolean word or the ``Sec-GPC`` header; anything else is read as TCF.
"""

from __future__ import annotations

import re

from prefsync_audit.signals import SignalKind

_USP = re.compile(r"^1[YN-]{3}$", re.IGNORECASE)
_GPC = re.compile(r"^(sec-gpc\s*:.*|1|0|true|false)$", re.IGNORECASE)


def detect_kind(text: str) -> SignalKind:
    """The signal kind ``text`` looks like."""
    value = text.strip()
    if _USP.match(value):
        return "usp"
    if _GPC.match(value):
        return "gpc"
    if value.startswith("{") or "=" in value:
        return "consent_mode"
    if value.startswith("D") and ("~" in value or len(value) <= 16):
        return "gpp"
    return "tcf"
