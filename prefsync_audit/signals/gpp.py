"""IAB Global Privacy Platform (GPP) strings.

A GPP string is ``header~section~section...`` (Core/Consent String
Specification.md in InteractiveAdvertisingBureau/Global-Privacy-Platform). The
header is websafe base64: Type (6 bits, always 3), Version (6 bits, 1) and the
ids of the sections that follow, as a Fibonacci-coded range; section texts
appear in the same order. Sections decoded here:

* 2 ``tcfeuv2`` -- a TC string, by :mod:`prefsync_audit.signals.tcf`;
* 6 ``uspv1`` -- a US Privacy string, by :mod:`prefsync_audit.signals.usp`;
* 7 ``usnat`` and 8-12 ``usca``/``usva``/``usco``/``usut``/``usct``.

Any other section id is kept with its raw text and ``decoded=False``: newer
sections are not errors, they are just not read. A header whose ids do not
match the section texts one for one is an error, as is any malformed section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals._bits import BitReader
from prefsync_audit.signals._us_sections import US_SECTIONS, UsPrivacySection, decode_us_section
from prefsync_audit.signals.tcf import TCString, decode_tc_string
from prefsync_audit.signals.usp import UspString, decode_usp

#: GPP API prefixes by section id, for labelling (decoded or not). 1-12 are
#: from "Sections/Section Information.md"; 13-22 follow the later US state
#: sections in the same repository's order.
SECTION_NAMES: dict[int, str] = {
    1: "tcfeuv1",
    2: "tcfeuv2",
    3: "header",
    4: "signal_integrity",
    5: "tcfcav1",
    6: "uspv1",
    7: "usnat",
    8: "usca",
    9: "usva",
    10: "usco",
    11: "usut",
    12: "usct",
    13: "usfl",
    14: "usmt",
    15: "usor",
    16: "ustx",
    17: "usde",
    18: "usia",
    19: "usne",
    20: "usnh",
    21: "usnj",
    22: "ustn",
}

DECODED_SECTION_IDS: frozenset[int] = frozenset({2, 6, *US_SECTIONS})

SectionData = TCString | UspString | UsPrivacySection


@dataclass(frozen=True)
class GppSection:
    """One section of a GPP string."""

    section_id: int
    """The id listed for it in the header."""
    name: str | None
    """Its API prefix (``tcfeuv2``, ``usnat``...), None when the id is unregistered here."""
    raw: str
    """The section text exactly as it appeared."""
    decoded: bool
    """False for section ids this package does not decode (``data`` is then None)."""
    data: SectionData | None
    """The decoded section."""


@dataclass(frozen=True)
class GppString:
    """A decoded GPP string."""

    kind: ClassVar[str] = "gpp"

    version: int
    """Header Version (1)."""
    section_ids: tuple[int, ...]
    """Section ids in header order."""
    sections: tuple[GppSection, ...]
    """One entry per section id, in the same order."""

    def section(self, key: int | str) -> GppSection | None:
        """The section with this id or API prefix, or None."""
        for entry in self.sections:
            if key in (entry.section_id, entry.name):
                return entry
        return None


def decode_gpp(text: str) -> GppString:
    """Decode a GPP string such as ``DBABTA~1YNN``."""
    if not isinstance(text, str):
        raise SignalDecodeError(f"GPP string must be text, not {type(text).__name__}")
    if not text:
        raise SignalDecodeError("GPP string is empty", position=0)
    parts = text.split("~")
    header = BitReader.from_base64url(parts[0], context="GPP header")
    header_type = header.read_int(6, "Type")
    if header_type != 3:
        hint = " (this looks like a TC string; decode it as tcf)" if header_type == 2 else ""
        raise header.error(f"header Type must be 3, got {header_type}{hint}", 0)
    version = header.read_int(6, "Version")
    if version != 1:
        raise header.error(f"unsupported GPP version {version}; only 1 is defined", 6)
    texts = parts[1:]
    ids_position = header.position
    section_ids = header.read_fibonacci_range(
        "Sections",
        max_items=len(texts),
        too_many=f"header lists more sections than the {len(texts)} section text(s) in the string",
    )
    header.expect_zero_padding()
    if len(section_ids) != len(texts):
        raise SignalDecodeError(
            f"GPP header lists {len(section_ids)} section(s) "
            f"{list(section_ids)} but the string has {len(texts)} section text(s)",
            position=ids_position,
        )
    sections: list[GppSection] = []
    offset = len(parts[0]) + 1
    for section_id, raw in zip(section_ids, texts, strict=True):
        sections.append(_decode_section(section_id, raw, offset))
        offset += len(raw) + 1
    return GppString(version=version, section_ids=section_ids, sections=tuple(sections))


def _decode_section(section_id: int, raw: str, offset: int) -> GppSection:
    name = SECTION_NAMES.get(section_id)
    if not raw:
        raise SignalDecodeError(
            f"GPP section {section_id} ({name or 'unknown'}) is empty", position=offset
        )
    data: SectionData | None
    if section_id == 2:
        data = decode_tc_string(raw, char_offset=offset, context="GPP section 2 (tcfeuv2)")
    elif section_id == 6:
        data = _decode_uspv1(raw, offset)
    elif section_id in US_SECTIONS:
        data = decode_us_section(section_id, raw, char_offset=offset)
    else:
        return GppSection(section_id, name, raw, decoded=False, data=None)
    return GppSection(section_id, name, raw, decoded=True, data=data)


def _decode_uspv1(raw: str, offset: int) -> UspString:
    try:
        return decode_usp(raw, char_offset=offset)
    except SignalDecodeError as exc:
        # Name the section: the bare message would not say it sits inside GPP.
        raise SignalDecodeError(f"GPP section 6 (uspv1): {exc.reason}", exc.position) from None
