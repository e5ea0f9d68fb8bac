"""IAB US Privacy string (CCPA, legacy; also GPP section 6 ``uspv1``).

Four characters: the version ``1``, then notice given, opted out of sale and
covered by the LSPA, each ``Y`` (yes), ``N`` (no) or ``-`` (not applicable).
``1YYN`` = notice given, opted out of sale, not LSPA-covered. Anything else is
rejected with the character position, because a lenient reader would turn a
typo into an answer about a person's opt-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from prefsync_audit.errors import SignalDecodeError

UspFlag = Literal["Y", "N", "-"]

_FIELDS = ("notice", "opt-out-of-sale", "LSPA-covered")


@dataclass(frozen=True)
class UspString:
    """A decoded US Privacy string."""

    kind: ClassVar[str] = "usp"

    version: int
    """Always 1, the only version the specification defines."""
    notice: UspFlag
    """Explicit notice / opportunity to opt out given (``Y``/``N``/``-``)."""
    opt_out_sale: UspFlag
    """The user opted out of the sale of personal information (``Y`` = opted out)."""
    lspa_covered: UspFlag
    """The publisher is a signatory of the IAB LSPA and the transaction is covered."""

    @property
    def opted_out(self) -> bool | None:
        """True if opted out of sale, False if not, None when not applicable."""
        return {"Y": True, "N": False, "-": None}[self.opt_out_sale]


def decode_usp(text: str, *, char_offset: int = 0) -> UspString:
    """Decode a US Privacy string such as ``1YNN``.

    ``char_offset`` shifts reported positions, for strings embedded in a
    larger one (a GPP section).
    """
    if not isinstance(text, str):
        raise SignalDecodeError(f"US Privacy string must be text, not {type(text).__name__}")
    if not text:
        raise SignalDecodeError("US Privacy string is empty", position=char_offset)
    if text[0] != "1":
        raise SignalDecodeError(
            f"US Privacy version must be '1', got {text[0]!r}", position=char_offset
        )
    if len(text) != 4:
        raise SignalDecodeError(
            f"US Privacy string must be 4 characters, got {len(text)}",
            position=char_offset + min(len(text), 4),
        )
    flags: list[UspFlag] = []
    for index, name in enumerate(_FIELDS, start=1):
        char = text[index]
        if char not in ("Y", "N", "-"):
            raise SignalDecodeError(
                f"US Privacy {name} flag must be 'Y', 'N' or '-', got {char!r}",
                position=char_offset + index,
            )
        flags.append(char)  # type: ignore[arg-type]  # narrowed by the check above
    return UspString(version=1, notice=flags[0], opt_out_sale=flags[1], lspa_covered=flags[2])
