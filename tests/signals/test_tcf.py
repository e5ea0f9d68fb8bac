"""Tests for prefsync_audit.signals.tcf: public vectors, encodings, malformed input."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals.tcf import PublisherRestriction, TCString, decode_tcf

from ._encoder import (
    BitWriter,
    TcModel,
    bits_to_base64url_bytes,
    encode_core_bits,
    encode_publisher_tc,
    encode_tc_string,
    encode_vendor_segment,
)

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --------------------------------------------------------------- STANDARDS.md


def test_standards_vector_core_fields() -> None:
    # STANDARDS.md; InteractiveAdvertisingBureau/iabtcf-java
    # iabtcf-decoder/src/test/java/com/iabtcf/decoder/TCStringV2Test.java
    # (testCanConstructTCModelFromBase64String)
    tc = decode_tcf("COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA")
    assert tc.version == 2
    assert tc.created == utc(2020, 1, 26, 17, 1)
    assert tc.last_updated == utc(2021, 2, 2, 17, 1)
    assert tc.cmp_id == 675
    assert tc.cmp_version == 2
    assert tc.consent_screen == 1
    assert tc.consent_language == "EN"
    assert tc.vendor_list_version == 15
    assert tc.tcf_policy_version == 2
    assert tc.is_service_specific is False
    assert tc.use_non_standard_texts is False
    assert tc.purpose_one_treatment is True
    assert tc.publisher_cc == "AA"
    assert tc.special_feature_opt_ins == {1}
    assert tc.purposes_consent == {2, 10}
    assert tc.purposes_li_transparency == {2, 9}
    assert tc.vendor_consents == frozenset()
    assert tc.vendor_legitimate_interests == frozenset()
    assert tc.publisher_restrictions == ()
    assert tc.disclosed_vendors is None
    assert tc.allowed_vendors is None
    assert tc.publisher_tc is None


def test_standards_vector_bitfield_vendors() -> None:
    # STANDARDS.md; iabtcf-java TCStringV2Test.java (testConstructConsentsFromBitFields)
    tc = decode_tcf(
        "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA"
    )
    assert tc.purposes_consent == {3, 4, 5, 6, 7, 8, 9}
    assert tc.vendor_consents == {23, 37, 47, 48, 53, 65, 98}
    assert tc.vendor_legitimate_interests == {37, 47, 48, 53, 65, 98, 129}


# ------------------------------------------------------- more public vectors

CORE_2 = "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA"


def test_disclosed_and_allowed_vendor_segments() -> None:
    # iabtcf-java TCStringV2Test.java (testCanParseDisclosedAndAllowedVendors)
    tc = decode_tcf(CORE_2 + ".IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA")
    assert tc.allowed_vendors == {12, 23, 37, 47, 48, 53}
    assert tc.disclosed_vendors == {23, 37, 47, 48, 53, 65, 98, 129}
    assert tc.publisher_tc is None


def test_all_four_segments_and_padded_publisher_tc() -> None:
    # iabtcf-java TCStringV2Test.java (testCanParseAllParts); the publisher TC
    # segment carries '=' padding, which base64url readers must tolerate.
    tc = decode_tcf(CORE_2 + ".IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg=")
    assert tc.publisher_tc is not None
    assert tc.publisher_tc.purposes_consent == {1}
    # Same bits as iabtcf-java testPublisherPurposes builds by hand:
    assert tc.publisher_tc.purposes_li_transparency == {24}
    assert tc.publisher_tc.num_custom_purposes == 2
    assert tc.publisher_tc.custom_purposes_consent == {2}
    assert tc.publisher_tc.custom_purposes_li_transparency == {1, 2}


def test_publisher_tc_segment_built_from_bits() -> None:
    # iabtcf-java TCStringV2Test.java (testPublisherPurposes): the bit string of
    # that test, encoded the way its base64FromBitString helper does.
    bits = "011" + "1" + "0" * 23 + "0" * 23 + "1" + "000010" + "01" + "11" + "000"
    tc = decode_tcf("COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA." + bits_to_base64url_bytes(bits))
    assert tc.publisher_tc is not None
    assert tc.publisher_tc.purposes_consent == {1}
    assert tc.publisher_tc.purposes_li_transparency == {24}
    assert tc.publisher_tc.custom_purposes_consent == {2}
    assert tc.publisher_tc.custom_purposes_li_transparency == {1, 2}


def test_range_encoded_legitimate_interests() -> None:
    # iabtcf-java TCStringV2Test.java (testCanParseRangeEncodedVendorLegitimateInterests)
    tc = decode_tcf("COv__-wOv__-wC2AAAENAPCgAAAAAAAAAAAAA_wAQA_gEBABAEAAAA")
    assert tc.vendor_legitimate_interests == {128}


DISCLOSED_79 = (
    "IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAA"
    "gAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"
)


@pytest.mark.parametrize(
    ("core", "expected"),
    [
        # iabtcf-java TCStringV2Test.java (testRange): two ranges, then one.
        ("COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAYFfAV-BVkAGBVYFWAAA", {702, 703}),
        ("COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAQFfgUbABAUaAAA", {703}),
    ],
)
def test_range_encoded_vendor_consents(core: str, expected: set[int]) -> None:
    tc = decode_tcf(f"{core}.{DISCLOSED_79}")
    assert tc.vendor_consents == expected
    assert tc.disclosed_vendors is not None and len(tc.disclosed_vendors) == 79


def test_purposes_consent_vector() -> None:
    # iabtcf-java TCStringV2Test.java (testPurposesConsent)
    tc = decode_tcf("COwxsONOwxsONKpAAAENAdCAAMAAAAAAAAAAAAAAAAAA")
    assert {1, 2} <= tc.purposes_consent


def test_publisher_restrictions_vector() -> None:
    # iabtcf-java TCStringV2Test.java (testPublisherRestrictions): its bit
    # string (3 restrictions without vendors), encoded like base64FromBitString.
    bits = (
        "0000100011101011100"
        "1000000000000001010"
        "0000001110101110010"
        "0000000000000101000"
        "0000110011111000000"
        "0000000000000000100"
        "0011010000000011110"
        "0001000000000000000" + "0000000000000000000" * 5 + "000000000011"
        "000001" + "01" + "000000000000"
        "000010" + "00" + "000000000000"
        "000011" + "10" + "000000000000" + "0"
    )
    tc = decode_tcf(bits_to_base64url_bytes(bits))
    assert tc.publisher_restrictions == (
        PublisherRestriction(1, 1, frozenset()),
        PublisherRestriction(2, 0, frozenset()),
        PublisherRestriction(3, 2, frozenset()),
    )
    assert [r.restriction_name for r in tc.publisher_restrictions] == [
        "require_consent",
        "not_allowed",
        "require_legitimate_interest",
    ]


@pytest.mark.parametrize(
    ("text", "vendors"),
    [
        # IABTechLab/iabgpp-java iabgpp-encoder/src/test/java/com/iab/gpp/encoder/
        # GppModelTest.java (testDecode1-3): the tcfeuv2 section of each string.
        ("CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAOAAAABAAAAA.QAAA.IAAA", {28}),
        ("CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAOwAQAOgAAAA.QAAA.IAAA", {29}),
        ("CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAFpQAwAAgCtAWkAAAAAAA.QAAA.IAAA", {1, 173, 722}),
    ],
)
def test_iabgpp_tcfeuv2_vendor_vectors(text: str, vendors: set[int]) -> None:
    tc = decode_tcf(text)
    assert tc.vendor_consents == vendors
    assert tc.created == utc(2022, 1, 1)
    assert tc.allowed_vendors == frozenset()
    assert tc.disclosed_vendors == frozenset()


def test_spec_example_with_all_segments() -> None:
    # InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework
    # "TCFv2/IAB Tech Lab - Consent string and vendor list formats v2.md",
    # "TC String Format": a globally-scoped string with all four segments.
    oob = (
        "FukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAA"
        "QiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA"
    )
    tc = decode_tcf(
        f"COw4XqLOw4XqLAAAAAENAXCAAAAAAAAAAAAAAAAAAAAA.I{oob}.Q{oob}.YAAAAAAAAAAAAAAAAAA"
    )
    assert tc.disclosed_vendors is not None and tc.allowed_vendors is not None
    assert tc.disclosed_vendors == tc.allowed_vendors  # same payload, types 1 and 2
    assert tc.publisher_tc is not None and tc.publisher_tc.num_custom_purposes == 0


def test_spec_example_service_specific_with_publisher_tc() -> None:
    # Same spec document: a service-specific string, core + publisher TC.
    tc = decode_tcf(
        "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA"
        ".argAC0gAAAAAAAAAAAA"
    )
    assert tc.publisher_tc is not None
    assert tc.disclosed_vendors is None


# ---------------------------------------------------- encodings (test encoder)


def test_bitfield_and_range_vendor_encodings_agree() -> None:
    vendors = {1, 2, 3, 10, 200, 201, 202}
    as_bits = decode_tcf(encode_tc_string(TcModel(vendor_consents=vendors)))
    as_ranges = decode_tcf(
        encode_tc_string(TcModel(vendor_consents=vendors, vendor_consents_range=True))
    )
    assert as_bits.vendor_consents == as_ranges.vendor_consents == vendors
    assert as_bits.max_vendor_id_consents == 202


def test_publisher_restrictions_with_vendor_ranges() -> None:
    model = TcModel(restrictions=[(2, 0, {8, 9, 10, 44}), (7, 1, {1}), (9, 2, set())])
    tc = decode_tcf(encode_tc_string(model))
    assert tc.publisher_restrictions == (
        PublisherRestriction(2, 0, frozenset({8, 9, 10, 44})),
        PublisherRestriction(7, 1, frozenset({1})),
        PublisherRestriction(9, 2, frozenset()),
    )


def test_optional_segments_in_any_order() -> None:
    pub = encode_publisher_tc({1, 3}, {2}, {1}, set(), num_custom=3)
    disclosed = encode_vendor_segment(1, {4, 5, 6, 99}, use_range=True)
    allowed = encode_vendor_segment(2, {5}, use_range=False)
    tc = decode_tcf(encode_tc_string(TcModel(), pub, disclosed, allowed))
    assert tc.disclosed_vendors == {4, 5, 6, 99}
    assert tc.allowed_vendors == {5}
    assert tc.publisher_tc is not None
    assert tc.publisher_tc.purposes_consent == {1, 3}
    assert tc.publisher_tc.purposes_li_transparency == {2}
    assert tc.publisher_tc.num_custom_purposes == 3
    assert tc.publisher_tc.custom_purposes_consent == {1}


def test_overlapping_ranges_are_merged() -> None:
    w = encode_core_bits(TcModel(vendor_li=set()))
    bits = w.bitstring
    # Replace the (empty, range-encoded) LI section and restrictions by hand.
    tail = 16 + 1 + 12 + 12  # MaxVendorId, IsRange, NumEntries=0, NumPubRestrictions
    head = bits[: len(bits) - tail]
    text = (
        BitWriter()
        .raw(head)
        .int(50, 16)
        .bool(True)
        .int_ranges([(1, 30), (10, 20), (25, 50), (50, 50)])
        .int(0, 12)
        .base64url()
    )
    assert decode_tcf(text).vendor_legitimate_interests == set(range(1, 51))


# ------------------------------------------------------------------ malformed


def _error(text: str) -> SignalDecodeError:
    with pytest.raises(SignalDecodeError) as info:
        decode_tcf(text)
    return info.value


V1 = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"


def test_empty_string() -> None:
    assert "empty" in _error("").reason


def test_not_text() -> None:
    with pytest.raises(SignalDecodeError):
        decode_tcf(None)  # type: ignore[arg-type]


def test_truncated_core_names_bit_offset() -> None:
    err = _error(V1[:20])
    assert err.position == 120
    assert "VendorListVersion" in err.reason


@pytest.mark.parametrize(("first", "version"), [("B", 1), ("D", 3), ("A", 0)])
def test_wrong_version(first: str, version: int) -> None:
    err = _error(first + V1[1:])
    assert err.position == 0
    assert f"version {version}" in err.reason


@pytest.mark.parametrize(("index", "char"), [(9, "+"), (9, "/"), (3, "="), (30, " "), (5, "é")])
def test_bad_base64_character_position(index: int, char: str) -> None:
    err = _error(V1[:index] + char + V1[index + 1 :])
    assert err.position == index


def test_bad_character_in_later_segment_reports_absolute_position() -> None:
    err = _error(V1 + ".IB*A")
    assert err.position == len(V1) + 3


def test_non_zero_padding_is_rejected() -> None:
    err = _error(V1[:-1] + "B")
    assert "non-zero" in err.reason
    assert err.position == len(V1) * 6 - 1


def test_range_start_after_end() -> None:
    model = TcModel(vendor_li=set(), vendor_li_range=True, max_vendor_id_li=400)
    bits = encode_core_bits(model).bitstring
    head = bits[: len(bits) - (16 + 1 + 12 + 12)]
    text = BitWriter().raw(head).int(400, 16).bool(True).int_ranges([(300, 200)]).int(0, 12)
    err = _error(text.base64url())
    assert "start 300 is after its end 200" in err.reason
    assert err.position == len(head) + 16 + 1 + 12


def test_range_id_above_max_vendor_id() -> None:
    err = _error(
        encode_tc_string(
            TcModel(vendor_consents={5, 90}, vendor_consents_range=True, max_vendor_id_consents=80)
        )
    )
    assert "above MaxVendorId 80" in err.reason


def test_range_vendor_id_zero() -> None:
    bits = encode_core_bits(TcModel(vendor_li=set())).bitstring
    head = bits[: len(bits) - (16 + 1 + 12 + 12)]
    text = BitWriter().raw(head).int(10, 16).bool(True).int_ranges([(0, 0)]).int(0, 12)
    assert "vendor id 0" in _error(text.base64url()).reason


def test_bitfield_longer_than_data() -> None:
    bits = encode_core_bits(TcModel()).bitstring
    # Claim 4000 consent vendors in bitfield encoding and stop right there.
    head = bits[:213]
    text = BitWriter().raw(head).int(4000, 16).bool(False).raw("1" * 30).base64url()
    err = _error(text)
    assert "vendor consents bitfield" in err.reason
    assert err.position == 213 + 17


def test_undefined_restriction_type() -> None:
    err = _error(encode_tc_string(TcModel(restrictions=[(3, 3, {1})])))
    assert "restriction type 3 is undefined" in err.reason


def test_restriction_purpose_zero() -> None:
    assert "purpose id 0" in _error(encode_tc_string(TcModel(restrictions=[(0, 1, {1})]))).reason


def test_letter_out_of_range() -> None:
    model = TcModel()
    bits = encode_core_bits(model).bitstring
    # ConsentLanguage starts at bit 6+36+36+12+12+6 = 108; write value 30.
    broken = bits[:108] + "011110" + bits[114:]
    err = _error(BitWriter().raw(broken).base64url())
    assert err.position == 108
    assert "ConsentLanguage" in err.reason


@pytest.mark.parametrize("segment_type", [0, 4, 5, 6, 7])
def test_unknown_segment_type(segment_type: int) -> None:
    segment = BitWriter().int(segment_type, 3).raw("0" * 21).base64url()
    err = _error(f"{V1}.{segment}")
    assert f"segment type {segment_type}" in err.reason


def test_default_segment_type_after_core_is_rejected() -> None:
    # iabtcf-java TCStringV2Test.java (testDefaultSegmentType) accepts a second
    # segment of type 0 and ignores it; a second "core" is ambiguous, so we reject.
    assert "core" in _error(V1 + ".AA==").reason


def test_repeated_segment_type() -> None:
    disclosed = encode_vendor_segment(1, {1}, use_range=False)
    err = _error(encode_tc_string(TcModel(), disclosed, disclosed))
    assert "appears twice" in err.reason


def test_spec_example_with_two_disclosed_segments_is_rejected() -> None:
    # The TCF v2 spec's "Example 3" appends "PVAfDObdrA", whose type bits (001)
    # make it a second disclosed-vendors segment; decoding it would be a guess.
    err = _error("COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA." + DISCLOSED_79 + ".PVAfDObdrA")
    assert "appears twice" in err.reason


def test_empty_segment() -> None:
    assert "segment 2 is empty" in _error(V1 + ".").reason


def test_publisher_tc_custom_purposes_longer_than_data() -> None:
    segment = BitWriter().int(3, 3).raw("0" * 48).int(63, 6).raw("1" * 10).base64url()
    err = _error(f"{V1}.{segment}")
    assert "CustomPurposesConsent" in err.reason


# ------------------------------------------------------------ property tests

vendor_sets = st.sets(st.integers(1, 400), max_size=25)
restriction = st.tuples(st.integers(1, 63), st.integers(0, 2), st.sets(st.integers(1, 999)))
moments = st.integers(0, 2**36 - 1).map(
    lambda ds: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=100 * ds)
)
letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


@st.composite
def tc_models(draw: st.DrawFn) -> TcModel:
    return TcModel(
        created=draw(moments),
        last_updated=draw(moments),
        cmp_id=draw(st.integers(0, 4095)),
        cmp_version=draw(st.integers(0, 4095)),
        consent_screen=draw(st.integers(0, 63)),
        consent_language=draw(letters),
        vendor_list_version=draw(st.integers(0, 4095)),
        tcf_policy_version=draw(st.integers(0, 63)),
        is_service_specific=draw(st.booleans()),
        use_non_standard_texts=draw(st.booleans()),
        special_feature_opt_ins=draw(st.sets(st.integers(1, 12))),
        purposes_consent=draw(st.sets(st.integers(1, 24))),
        purposes_li_transparency=draw(st.sets(st.integers(1, 24))),
        purpose_one_treatment=draw(st.booleans()),
        publisher_cc=draw(letters),
        vendor_consents=draw(vendor_sets),
        vendor_consents_range=draw(st.booleans()),
        vendor_li=draw(vendor_sets),
        vendor_li_range=draw(st.booleans()),
        restrictions=draw(st.lists(restriction, max_size=4)),
    )


@settings(max_examples=150, deadline=None)
@given(tc_models(), st.one_of(st.none(), vendor_sets), st.one_of(st.none(), vendor_sets))
def test_round_trip(model: TcModel, disclosed: set[int] | None, allowed: set[int] | None) -> None:
    segments = []
    if disclosed is not None:
        segments.append(encode_vendor_segment(1, disclosed, use_range=len(disclosed) % 2 == 0))
    if allowed is not None:
        segments.append(encode_vendor_segment(2, allowed, use_range=True))
    tc = decode_tcf(encode_tc_string(model, *segments))
    assert isinstance(tc, TCString)
    assert tc.created == model.created
    assert tc.last_updated == model.last_updated
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (
        model.cmp_id,
        model.cmp_version,
        model.consent_screen,
    )
    assert tc.consent_language == model.consent_language
    assert tc.publisher_cc == model.publisher_cc
    assert tc.vendor_list_version == model.vendor_list_version
    assert tc.tcf_policy_version == model.tcf_policy_version
    assert tc.is_service_specific == model.is_service_specific
    assert tc.use_non_standard_texts == model.use_non_standard_texts
    assert tc.purpose_one_treatment == model.purpose_one_treatment
    assert tc.special_feature_opt_ins == model.special_feature_opt_ins
    assert tc.purposes_consent == model.purposes_consent
    assert tc.purposes_li_transparency == model.purposes_li_transparency
    assert tc.vendor_consents == model.vendor_consents
    assert tc.vendor_legitimate_interests == model.vendor_li
    assert [
        (r.purpose_id, r.restriction_type, set(r.vendor_ids)) for r in tc.publisher_restrictions
    ] == [(p, t, v) for p, t, v in model.restrictions]
    assert tc.disclosed_vendors == disclosed
    assert tc.allowed_vendors == allowed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_random_text_only_raises_decode_errors(text: str) -> None:
    with contextlib.suppress(SignalDecodeError):
        decode_tcf(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=B64URL + ".=", max_size=120))
def test_random_base64url_only_raises_decode_errors(text: str) -> None:
    with contextlib.suppress(SignalDecodeError):
        decode_tcf("C" + text)


@settings(max_examples=200, deadline=None)
@given(tc_models(), st.data())
def test_corrupted_valid_strings_only_raise_decode_errors(
    model: TcModel, data: st.DataObject
) -> None:
    text = encode_tc_string(model)
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(B64URL + ".~+"))
    mutated = text[:index] + replacement + text[index + 1 :]
    cut = data.draw(st.integers(0, len(mutated)))
    with contextlib.suppress(SignalDecodeError):
        decode_tcf(mutated[:cut])
