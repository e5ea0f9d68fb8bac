"""IAB Europe TCF v2 TC strings (also GPP section 2 ``tcfeuv2``).

Follows "IAB Tech Lab - Consent string and vendor list formats v2"
(InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework,
``TCFv2/``). A TC string is ``.``-separated websafe-base64 segments: the core
segment first (every field of the spec, vendor consent and legitimate-interest
sections in bitfield or range encoding, publisher restrictions), then optional
segments whose first 3 bits give their type: 1 disclosed vendors, 2 allowed
vendors, 3 publisher TC.

Decoding is strict on purpose: version other than 2, a segment type that is
unknown or repeated, a range whose start is after its end, a vendor id above
the section's MaxVendorId, a letter outside A-Z, a restriction type 3
("undefined"), data ending before the last field, or a non-zero bit after it
all raise :class:`~prefsync_audit.errors.SignalDecodeError`. Positions are bit
offsets inside the failing segment, except for bad characters, whose position
is the character offset in the whole input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar, Literal

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals._bits import BitReader

RestrictionName = Literal["not_allowed", "require_consent", "require_legitimate_interest"]
_RESTRICTION_NAMES: dict[int, RestrictionName] = {
    0: "not_allowed",
    1: "require_consent",
    2: "require_legitimate_interest",
}
_SEGMENT_NAMES = {1: "disclosed vendors", 2: "allowed vendors", 3: "publisher TC"}


@dataclass(frozen=True)
class PublisherRestriction:
    """One PubRestrictionEntry of the core segment."""

    purpose_id: int
    """The purpose (1-63) whose legal basis the publisher restricts."""
    restriction_type: int
    """0 not allowed, 1 require consent, 2 require legitimate interest."""
    vendor_ids: frozenset[int]
    """Vendors the restriction applies to."""

    @property
    def restriction_name(self) -> RestrictionName:
        """The restriction type as a name."""
        return _RESTRICTION_NAMES[self.restriction_type]


@dataclass(frozen=True)
class PublisherTC:
    """The publisher purposes transparency and consent segment (type 3)."""

    purposes_consent: frozenset[int]
    """PubPurposesConsent: purposes the user consented to for the publisher."""
    purposes_li_transparency: frozenset[int]
    """PubPurposesLITransparency: purposes on legitimate interest, not objected to."""
    num_custom_purposes: int
    """NumCustomPurposes: how many publisher-defined custom purposes exist."""
    custom_purposes_consent: frozenset[int]
    """CustomPurposesConsent: custom purpose ids (1-based) with consent."""
    custom_purposes_li_transparency: frozenset[int]
    """CustomPurposesLITransparency: custom purpose ids on legitimate interest."""


@dataclass(frozen=True)
class TCString:
    """A decoded TC string: the core segment plus any optional segments."""

    kind: ClassVar[str] = "tcf"

    version: int
    """Encoding version; always 2."""
    created: datetime
    """When the TC string was first created (UTC, decisecond precision)."""
    last_updated: datetime
    """When it was last updated (UTC)."""
    cmp_id: int
    """Id of the CMP that last updated the string."""
    cmp_version: int
    """Version of that CMP."""
    consent_screen: int
    """CMP screen number on which consent was given."""
    consent_language: str
    """Two-letter ISO 639-1 language of the CMP UI, upper case (``EN``)."""
    vendor_list_version: int
    """Global Vendor List version used."""
    tcf_policy_version: int
    """TCF policy version (4 = TCF v2.2, which dropped legitimate interest for purposes 3-6)."""
    is_service_specific: bool
    """True for service-specific storage, False for the global consensu.org scope."""
    use_non_standard_texts: bool
    """UseNonStandardTexts (formerly UseNonStandardStacks)."""
    special_feature_opt_ins: frozenset[int]
    """Special features (1-12) the user opted in to; 1 is precise geolocation."""
    purposes_consent: frozenset[int]
    """Purposes (1-24) with consent."""
    purposes_li_transparency: frozenset[int]
    """Purposes (1-24) on legitimate interest that the user did not object to."""
    purpose_one_treatment: bool
    """True when purpose 1 was not disclosed at all (its consent bit then means nothing)."""
    publisher_cc: str
    """ISO 3166-1 alpha-2 country code of the publisher, upper case."""
    max_vendor_id_consents: int
    """MaxVendorId of the vendor consent section."""
    vendor_consents: frozenset[int]
    """Vendors with consent."""
    max_vendor_id_legitimate_interests: int
    """MaxVendorId of the vendor legitimate-interest section."""
    vendor_legitimate_interests: frozenset[int]
    """Vendors whose legitimate interest was disclosed and not objected to."""
    publisher_restrictions: tuple[PublisherRestriction, ...]
    """Publisher restrictions, in string order."""
    disclosed_vendors: frozenset[int] | None = None
    """Disclosed vendors segment (type 1), or None when absent."""
    allowed_vendors: frozenset[int] | None = None
    """Allowed vendors segment (type 2), or None when absent."""
    publisher_tc: PublisherTC | None = None
    """Publisher TC segment (type 3), or None when absent."""


def decode_tcf(text: str) -> TCString:
    """Decode a TC string (core segment plus optional ``.``-separated segments)."""
    if not isinstance(text, str):
        raise SignalDecodeError(f"TC string must be text, not {type(text).__name__}")
    return decode_tc_string(text)


def decode_tc_string(text: str, *, char_offset: int = 0, context: str = "TC string") -> TCString:
    """Decode ``text``; ``char_offset`` and ``context`` locate it inside a larger string."""
    if not text:
        raise SignalDecodeError(f"{context} is empty", position=char_offset)
    segments = text.split(".")
    offsets = _segment_offsets(segments, char_offset)
    core = _decode_core(
        BitReader.from_base64url(
            segments[0], context=f"{context} core segment", char_offset=offsets[0]
        )
    )
    seen: set[int] = set()
    disclosed: frozenset[int] | None = None
    allowed: frozenset[int] | None = None
    publisher_tc: PublisherTC | None = None
    for number, (segment, offset) in enumerate(zip(segments[1:], offsets[1:], strict=True), 2):
        reader = BitReader.from_base64url(
            segment, context=f"{context} segment {number}", char_offset=offset
        )
        segment_type = reader.read_int(3, "segment type")
        if segment_type not in _SEGMENT_NAMES:
            what = (
                "the core segment type, which may only come first"
                if segment_type == 0
                else "not defined by the specification"
            )
            raise reader.error(f"segment type {segment_type} is {what}", 0)
        if segment_type in seen:
            raise reader.error(
                f"segment type {segment_type} ({_SEGMENT_NAMES[segment_type]}) appears twice", 0
            )
        seen.add(segment_type)
        reader.context = f"{context} {_SEGMENT_NAMES[segment_type]} segment"
        if segment_type == 1:
            disclosed = _read_vendor_section(reader, "vendor ids")[1]
        elif segment_type == 2:
            allowed = _read_vendor_section(reader, "vendor ids")[1]
        else:
            publisher_tc = _decode_publisher_tc(reader)
        reader.expect_zero_padding()
    return replace(
        core, disclosed_vendors=disclosed, allowed_vendors=allowed, publisher_tc=publisher_tc
    )


def _segment_offsets(segments: list[str], char_offset: int) -> list[int]:
    offsets: list[int] = []
    position = char_offset
    for segment in segments:
        offsets.append(position)
        position += len(segment) + 1
    return offsets


def _decode_core(reader: BitReader) -> TCString:
    """Read every core-segment field in spec order (optional segments left None)."""
    version = reader.read_int(6, "Version")
    if version != 2:
        hint = " (a TCF v1 consent string)" if version == 1 else ""
        hint = " (a GPP string; decode it as gpp)" if version == 3 else hint
        raise reader.error(f"unsupported TC string version {version}{hint}; only 2 is defined", 0)
    # Keyword arguments are evaluated left to right, which is the spec's bit order.
    core = TCString(
        version=version,
        created=reader.read_datetime("Created"),
        last_updated=reader.read_datetime("LastUpdated"),
        cmp_id=reader.read_int(12, "CmpId"),
        cmp_version=reader.read_int(12, "CmpVersion"),
        consent_screen=reader.read_int(6, "ConsentScreen"),
        consent_language=reader.read_letters(2, "ConsentLanguage"),
        vendor_list_version=reader.read_int(12, "VendorListVersion"),
        tcf_policy_version=reader.read_int(6, "TcfPolicyVersion"),
        is_service_specific=reader.read_bool("IsServiceSpecific"),
        use_non_standard_texts=reader.read_bool("UseNonStandardTexts"),
        special_feature_opt_ins=reader.read_bitfield(12, "SpecialFeatureOptIns"),
        purposes_consent=reader.read_bitfield(24, "PurposesConsent"),
        purposes_li_transparency=reader.read_bitfield(24, "PurposesLITransparency"),
        purpose_one_treatment=reader.read_bool("PurposeOneTreatment"),
        publisher_cc=reader.read_letters(2, "PublisherCC"),
        max_vendor_id_consents=reader.read_int(16, "vendor consents MaxVendorId"),
        vendor_consents=frozenset(),
        max_vendor_id_legitimate_interests=0,
        vendor_legitimate_interests=frozenset(),
        publisher_restrictions=(),
    )
    consents = _read_vendor_ids(reader, "vendor consents", core.max_vendor_id_consents)
    max_li, legitimate_interests = _read_vendor_section(reader, "vendor legitimate interests")
    restrictions = _read_publisher_restrictions(reader)
    reader.expect_zero_padding()
    return replace(
        core,
        vendor_consents=consents,
        max_vendor_id_legitimate_interests=max_li,
        vendor_legitimate_interests=legitimate_interests,
        publisher_restrictions=restrictions,
    )


def _read_vendor_section(reader: BitReader, what: str) -> tuple[int, frozenset[int]]:
    """Read MaxVendorId, IsRangeEncoding and the bitfield or range entries."""
    max_vendor_id = reader.read_int(16, f"{what} MaxVendorId")
    return max_vendor_id, _read_vendor_ids(reader, what, max_vendor_id)


def _read_vendor_ids(reader: BitReader, what: str, max_vendor_id: int) -> frozenset[int]:
    """Read IsRangeEncoding and then the bitfield or the range entries."""
    if reader.read_bool(f"{what} IsRangeEncoding"):
        return reader.read_int_ranges(what, max_id=max_vendor_id)
    return reader.read_bitfield(max_vendor_id, f"{what} bitfield")


def _read_publisher_restrictions(reader: BitReader) -> tuple[PublisherRestriction, ...]:
    count = reader.read_int(12, "NumPubRestrictions")
    restrictions: list[PublisherRestriction] = []
    for number in range(1, count + 1):
        entry_pos = reader.position
        label = f"publisher restriction {number}"
        purpose_id = reader.read_int(6, f"{label} PurposeId")
        if purpose_id == 0:
            raise reader.error(f"{label}: purpose id 0 does not exist", entry_pos)
        type_pos = reader.position
        restriction_type = reader.read_int(2, f"{label} RestrictionType")
        if restriction_type not in _RESTRICTION_NAMES:
            raise reader.error(
                f"{label}: restriction type {restriction_type} is undefined", type_pos
            )
        vendor_ids = reader.read_int_ranges(f"{label} vendors")
        restrictions.append(PublisherRestriction(purpose_id, restriction_type, vendor_ids))
    return tuple(restrictions)


def _decode_publisher_tc(reader: BitReader) -> PublisherTC:
    consent = reader.read_bitfield(24, "PubPurposesConsent")
    li_transparency = reader.read_bitfield(24, "PubPurposesLITransparency")
    num_custom = reader.read_int(6, "NumCustomPurposes")
    return PublisherTC(
        purposes_consent=consent,
        purposes_li_transparency=li_transparency,
        num_custom_purposes=num_custom,
        custom_purposes_consent=reader.read_bitfield(num_custom, "CustomPurposesConsent"),
        custom_purposes_li_transparency=reader.read_bitfield(
            num_custom, "CustomPurposesLITransparency"
        ),
    )
