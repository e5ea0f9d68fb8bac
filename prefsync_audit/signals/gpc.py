"""Global Privacy Control (GPC) flags.

GPC reaches an auditor as the HTTP header ``Sec-GPC: 1``, as the JavaScript
value ``navigator.globalPrivacyControl === true`` logged somewhere, or as a
bare column value. A set flag is an opt-out of sale/sharing and targeted
advertising under CCPA/CPRA and several US state laws. An absent flag means no
preference was expressed -- it is never a grant -- so the decoded value is
``True`` (opted out) or ``None`` (no preference), never ``False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from prefsync_audit.errors import SignalDecodeError

_SET = frozenset({"1", "true"})
_UNSET = frozenset({"0", "false", ""})
_HEADER = re.compile(r"\s*sec-gpc\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class GpcSignal:
    """A decoded GPC flag."""

    kind: ClassVar[str] = "gpc"

    opt_out: bool | None
    """``True`` when GPC is set (the person opted out); ``None`` when absent or unset."""


def decode_gpc(text: str | None) -> GpcSignal:
    """Decode a GPC flag: ``1``/``true`` (any case) or ``Sec-GPC: 1`` → opted out.

    ``0``, ``false``, an empty value and ``None`` (absent) give
    ``GpcSignal(opt_out=None)``: no preference. Surrounding whitespace is
    ignored, as HTTP does. Any other text raises :class:`SignalDecodeError`.
    """
    if text is None:
        return GpcSignal(opt_out=None)
    if not isinstance(text, str):
        raise SignalDecodeError(f"GPC flag must be text, not {type(text).__name__}")
    value_start = 0
    header = _HEADER.match(text)
    if header is not None:
        value_start = header.end()
    elif ":" in text:
        colon = text.index(":")
        raise SignalDecodeError(
            f"GPC header name must be 'Sec-GPC', got {text[:colon].strip()!r}", position=0
        )
    value = text[value_start:].strip().lower()
    if value in _SET:
        return GpcSignal(opt_out=True)
    if value in _UNSET:
        if header is not None and value == "":
            # "Sec-GPC:" with nothing after it is a broken header, not an absence.
            raise SignalDecodeError("Sec-GPC header has no value", position=value_start)
        return GpcSignal(opt_out=None)
    leading = len(text[value_start:]) - len(text[value_start:].lstrip())
    raise SignalDecodeError(
        f"GPC flag must be 1/true or 0/false, got {text[value_start:].strip()!r}",
        position=value_start + leading,
    )
