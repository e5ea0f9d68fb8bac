"""GPP US sections: national (7, ``usnat``) and states CA, VA, CO, UT, CT (8-12).

All of them are fixed-layout bit strings of 2-bit integers after a 6-bit
version, optionally followed by a ``.``-separated GPC subsection (2-bit
subsection type 1, then one Gpc bit) for the sections whose specification
has one (usnat, usca, usco, usct). Layouts come from the section
specifications in InteractiveAdvertisingBureau/Global-Privacy-Platform
(``Sections/US-National``, ``Sections/US-States``).

The layout is chosen by the Version field *and* checked against the bit length:
usnat version 1 has 12 sensitive-data categories and 2 known-child fields (60
bits), version 2 has 16 and 3 (70 bits). Some encoders have written the 70-bit
layout under version 1; reading such a string by either layout would be a
guess, so a version whose layout does not fit the length is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals._bits import BitReader

# A field is (attribute name, spec name, number of 2-bit values or None for a
# single Int(2)). Lists are exposed as tuples; single Int(2) as int.
_Field = tuple[str, str, int | None]

_SDP_NOTICE: _Field = (
    "sensitive_data_processing_opt_out_notice",
    "SensitiveDataProcessingOptOutNotice",
    None,
)

_NOTICES_NAT: list[_Field] = [
    ("sharing_notice", "SharingNotice", None),
    ("sale_opt_out_notice", "SaleOptOutNotice", None),
    ("sharing_opt_out_notice", "SharingOptOutNotice", None),
    ("targeted_advertising_opt_out_notice", "TargetedAdvertisingOptOutNotice", None),
    _SDP_NOTICE,
    ("sensitive_data_limit_use_notice", "SensitiveDataLimitUseNotice", None),
    ("sale_opt_out", "SaleOptOut", None),
    ("sharing_opt_out", "SharingOptOut", None),
    ("targeted_advertising_opt_out", "TargetedAdvertisingOptOut", None),
]
_MSPA: list[_Field] = [
    ("mspa_covered_transaction", "MspaCoveredTransaction", None),
    ("mspa_opt_out_option_mode", "MspaOptOutOptionMode", None),
    ("mspa_service_provider_mode", "MspaServiceProviderMode", None),
]
_PDC: _Field = ("personal_data_consents", "PersonalDataConsents", None)


def _sdp(count: int) -> _Field:
    return ("sensitive_data_processing", "SensitiveDataProcessing", count)


def _kids(count: int | None) -> _Field:
    return ("known_child_sensitive_data_consents", "KnownChildSensitiveDataConsents", count)


def _va_like(sdp: int, *, utah: bool = False) -> list[_Field]:
    """VA, CO and UT share one shape; UT adds a sensitive-data opt-out notice."""
    fields: list[_Field] = [
        ("sharing_notice", "SharingNotice", None),
        ("sale_opt_out_notice", "SaleOptOutNotice", None),
        ("targeted_advertising_opt_out_notice", "TargetedAdvertisingOptOutNotice", None),
    ]
    if utah:
        fields.append(_SDP_NOTICE)
    fields += [
        ("sale_opt_out", "SaleOptOut", None),
        ("targeted_advertising_opt_out", "TargetedAdvertisingOptOut", None),
        _sdp(sdp),
        _kids(None),
    ]
    return fields + _MSPA


@dataclass(frozen=True)
class _SectionSpec:
    name: str
    layouts: dict[int, list[_Field]]  # by Version
    has_gpc: bool


US_SECTIONS: dict[int, _SectionSpec] = {
    7: _SectionSpec(
        "usnat",
        {
            1: [*_NOTICES_NAT, _sdp(12), _kids(2), _PDC, *_MSPA],
            2: [*_NOTICES_NAT, _sdp(16), _kids(3), _PDC, *_MSPA],
        },
        has_gpc=True,
    ),
    8: _SectionSpec(
        "usca",
        {
            1: [
                ("sale_opt_out_notice", "SaleOptOutNotice", None),
                ("sharing_opt_out_notice", "SharingOptOutNotice", None),
                ("sensitive_data_limit_use_notice", "SensitiveDataLimitUseNotice", None),
                ("sale_opt_out", "SaleOptOut", None),
                ("sharing_opt_out", "SharingOptOut", None),
                _sdp(9),
                _kids(2),
                _PDC,
                *_MSPA,
            ]
        },
        has_gpc=True,
    ),
    9: _SectionSpec("usva", {1: _va_like(8)}, has_gpc=False),
    10: _SectionSpec("usco", {1: _va_like(7)}, has_gpc=True),
    11: _SectionSpec("usut", {1: _va_like(8, utah=True)}, has_gpc=False),
    12: _SectionSpec(
        "usct",
        {
            1: [
                ("sharing_notice", "SharingNotice", None),
                ("sale_opt_out_notice", "SaleOptOutNotice", None),
                ("targeted_advertising_opt_out_notice", "TargetedAdvertisingOptOutNotice", None),
                ("sale_opt_out", "SaleOptOut", None),
                ("targeted_advertising_opt_out", "TargetedAdvertisingOptOut", None),
                _sdp(8),
                _kids(3),
                *_MSPA,
            ]
        },
        has_gpc=True,
    ),
}


@dataclass(frozen=True)
class UsPrivacySection:
    """A decoded GPP US section (national or state).

    Every 2-bit value keeps the spec's meaning: for opt-outs 0 = not
    applicable, 1 = opted out, 2 = did not opt out; for notices 0 = n/a,
    1 = given, 2 = not given; for consents 0 = n/a, 1 = no consent, 2 =
    consent (California's sensitive-data list uses 1 = did not opt out,
    2 = opted out). Fields the section's specification does not define are
    ``None``. VA, CO and UT define KnownChildSensitiveDataConsents as a single
    Int(2): it is exposed as a 1-tuple so that the field has one type.
    """

    kind: ClassVar[str] = "gpp_us_section"

    section_id: int
    """GPP section id (7 usnat, 8 usca, 9 usva, 10 usco, 11 usut, 12 usct)."""
    name: str
    """GPP API prefix of the section (``usnat``, ``usca``...)."""
    version: int
    """Section Version field."""
    sharing_notice: int | None = None
    sale_opt_out_notice: int | None = None
    sharing_opt_out_notice: int | None = None
    targeted_advertising_opt_out_notice: int | None = None
    sensitive_data_processing_opt_out_notice: int | None = None
    sensitive_data_limit_use_notice: int | None = None
    sale_opt_out: int | None = None
    """SaleOptOut: 0 n/a, 1 opted out, 2 did not opt out."""
    sharing_opt_out: int | None = None
    """SharingOptOut: 0 n/a, 1 opted out, 2 did not opt out."""
    targeted_advertising_opt_out: int | None = None
    """TargetedAdvertisingOptOut: 0 n/a, 1 opted out, 2 did not opt out."""
    sensitive_data_processing: tuple[int, ...] = ()
    """SensitiveDataProcessing, one value per category in spec order."""
    known_child_sensitive_data_consents: tuple[int, ...] = ()
    """KnownChildSensitiveDataConsents, one value per activity in spec order."""
    personal_data_consents: int | None = None
    mspa_covered_transaction: int | None = None
    mspa_opt_out_option_mode: int | None = None
    mspa_service_provider_mode: int | None = None
    gpc_subsection_present: bool = False
    """Whether the string carried the GPC subsection."""
    gpc: bool | None = None
    """The Gpc bit, or None when the subsection is absent."""


def _layout_bits(layout: list[_Field]) -> int:
    return 6 + sum(2 * (count or 1) for _, _, count in layout)


def _length_window(content_bits: int) -> tuple[int, int]:
    """Bit lengths a correctly padded encoding of ``content_bits`` can have.

    Encoders pad with zeros to a multiple of 6 (the spec), and the IAB
    reference libraries first to a whole byte; allowing exactly that window
    is what lets the length tell two versions' layouts apart.
    """
    minimum = -(-content_bits // 6) * 6
    maximum = -(-(-(-content_bits // 8) * 8) // 6) * 6
    return minimum, maximum


def decode_us_section(section_id: int, text: str, *, char_offset: int = 0) -> UsPrivacySection:
    """Decode the text of GPP section ``section_id`` (7-12)."""
    spec = US_SECTIONS[section_id]
    context = f"GPP section {section_id} ({spec.name})"
    parts = text.split(".")
    reader = BitReader.from_base64url(
        parts[0], context=f"{context} core subsection", char_offset=char_offset
    )
    version = reader.peek_int(6, "Version")
    layout = spec.layouts.get(version)
    if layout is None:
        known = ", ".join(str(v) for v in sorted(spec.layouts))
        raise reader.error(f"unsupported version {version} (known: {known})", 0)
    low, high = _length_window(_layout_bits(layout))
    if not low <= reader.length <= high:
        others = [
            str(v)
            for v, other in spec.layouts.items()
            if v != version and _in_window(reader.length, other)
        ]
        hint = f"; that length fits version {', '.join(others)}" if others else ""
        raise reader.error(
            f"version {version} needs {_layout_bits(layout)} bits ({low}-{high} with padding) "
            f"but the core subsection has {reader.length}{hint}",
            0,
        )
    values: dict[str, object] = {"version": reader.read_int(6, "Version")}
    for attr, spec_name, count in layout:
        if count is None:
            values[attr] = _read_2bit(reader, spec_name)
        else:
            values[attr] = tuple(
                _read_2bit(reader, f"{spec_name}[{i}]") for i in range(1, count + 1)
            )
    if _single_kids(layout):
        values["known_child_sensitive_data_consents"] = (
            values["known_child_sensitive_data_consents"],
        )
    reader.expect_zero_padding()
    gpc_present, gpc = _decode_gpc_subsections(spec, parts, char_offset, context)
    return UsPrivacySection(
        section_id=section_id,
        name=spec.name,
        gpc_subsection_present=gpc_present,
        gpc=gpc,
        **values,  # type: ignore[arg-type]
    )


def _single_kids(layout: list[_Field]) -> bool:
    """True when the layout's known-child field is a single Int(2) (VA, CO, UT)."""
    return any(a == "known_child_sensitive_data_consents" and c is None for a, _, c in layout)


def _in_window(length: int, layout: list[_Field]) -> bool:
    low, high = _length_window(_layout_bits(layout))
    return low <= length <= high


def _read_2bit(reader: BitReader, what: str) -> int:
    start = reader.position
    value = reader.read_int(2, what)
    if value == 3:
        # Every 2-bit field in these sections defines only 0, 1 and 2.
        raise reader.error(f"{what} has undefined value 3", start)
    return value


def _decode_gpc_subsections(
    spec: _SectionSpec, parts: list[str], char_offset: int, context: str
) -> tuple[bool, bool | None]:
    if len(parts) == 1:
        return False, None
    offset = char_offset + len(parts[0]) + 1
    if not spec.has_gpc:
        raise SignalDecodeError(
            f"{context} has no subsections in its specification, but the text has {len(parts) - 1}",
            position=offset - 1,
        )
    if len(parts) > 2:
        raise SignalDecodeError(
            f"{context} may have one GPC subsection, but the text has {len(parts) - 1}",
            position=offset + len(parts[1]),
        )
    reader = BitReader.from_base64url(
        parts[1], context=f"{context} GPC subsection", char_offset=offset
    )
    subsection_type = reader.read_int(2, "SubsectionType")
    if subsection_type != 1:
        raise reader.error(f"subsection type {subsection_type} is not GPC (1)", 0)
    gpc = reader.read_bool("Gpc")
    low, high = _length_window(3)
    if not low <= reader.length <= high:
        raise reader.error(f"GPC subsection needs 3 bits, has {reader.length}", 0)
    reader.expect_zero_padding()
    return True, gpc
