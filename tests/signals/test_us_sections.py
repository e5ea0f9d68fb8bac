"""Tests for the GPP US sections: usnat (7) and usca/usva/usco/usut/usct (8-12)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals import UsPrivacySection
from prefsync_audit.signals.gpp import GppString, decode_gpp

from ._encoder import (
    US_HAS_GPC,
    US_LAYOUTS,
    BitWriter,
    encode_gpc_subsection,
    encode_gpp_header,
    encode_us_core,
)


def us(gpp: GppString, index: int = 0) -> UsPrivacySection:
    data = gpp.sections[index].data
    assert isinstance(data, UsPrivacySection)
    return data


def _error(text: str) -> SignalDecodeError:
    with pytest.raises(SignalDecodeError) as info:
        decode_gpp(text)
    return info.value


# ---------------------------------------------------------- reference vectors


def test_iabgpp_usnat_v1_with_gpc_subsection() -> None:
    # iabgpp-java GppModelTest.java (testDecode5; that test asserts nothing,
    # the values below were read off the bits by hand).
    section = us(decode_gpp("DBABLA~BVQqAAAAAgA.QA"))
    assert section.version == 1
    assert section.sharing_notice == 1
    assert section.sensitive_data_processing_opt_out_notice == 0
    assert (section.sale_opt_out, section.sharing_opt_out) == (2, 2)
    assert section.targeted_advertising_opt_out == 2
    assert section.sensitive_data_processing == (0,) * 12
    assert section.known_child_sensitive_data_consents == (0, 0)
    assert section.personal_data_consents == 0
    assert section.mspa_covered_transaction == 2
    assert section.mspa_opt_out_option_mode == 0
    assert section.gpc_subsection_present is True and section.gpc is False


@pytest.mark.parametrize(
    ("section_text", "sdp", "kids"),
    [
        # iabgpp-java GppModelTest.java (testDecode6, testDecode8): 66-bit
        # version-1 strings. iabgpp-java widens them to 16/3 entries; we keep
        # the 12/2 layout that version 1 defines.
        ("BAAAAAAAAQA.QA", (0,) * 12, (0, 0)),
        ("BAAAAAABEQA.QA", (0,) * 11 + (1,), (0, 1)),
    ],
)
def test_iabgpp_usnat_v1_layout(
    section_text: str, sdp: tuple[int, ...], kids: tuple[int, ...]
) -> None:
    section = us(decode_gpp(f"DBABLA~{section_text}"))
    assert section.sensitive_data_processing == sdp
    assert section.known_child_sensitive_data_consents == kids


USNAT_V2_ALL = dict(
    sharing_notice=1,
    sale_opt_out_notice=1,
    sharing_opt_out_notice=1,
    targeted_advertising_opt_out_notice=1,
    sensitive_data_processing_opt_out_notice=1,
    sensitive_data_limit_use_notice=1,
    sale_opt_out=1,
    sharing_opt_out=1,
    targeted_advertising_opt_out=1,
    sensitive_data_processing=(2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2),
    known_child_sensitive_data_consents=(2, 1, 0),
    personal_data_consents=1,
    mspa_covered_transaction=1,
    mspa_opt_out_option_mode=1,
    mspa_service_provider_mode=2,
)


@pytest.mark.parametrize(("text", "gpc"), [("CVVVkkkkkpFY.YA", True), ("CVVVkkkkkpFY", None)])
def test_usnat_v2_vectors(text: str, gpc: bool | None) -> None:
    # IABTechLab/iabgpp-java iabgpp-encoder/src/test/java/com/iab/gpp/encoder/
    # section/UsNatTest.java (revision with UsNat.VERSION = 2: testDecode1,
    # testDecodeWithGpcSegmentExcluded)
    section = us(decode_gpp(f"DBABLA~{text}"))
    assert section.version == 2
    for name, value in USNAT_V2_ALL.items():
        assert getattr(section, name) == value, name
    assert section.gpc is gpc
    assert section.gpc_subsection_present is (gpc is not None)


@pytest.mark.parametrize(
    ("text", "version", "sdp", "kids"),
    [
        # Same UsNatTest.java revision: testDecodeUsNatV1,
        # testDecodeUsNatV2WithV1Values, testDecodeUsNatV2WithV2Values.
        ("BAAAVVVVUQA.QA", 1, (1,) * 12, (1, 1)),
        ("CAAAVVVVAFBA.QA", 2, (1,) * 12 + (0,) * 4, (1, 1, 0)),
        ("CAAAVVVVVVRA.QA", 2, (1,) * 16, (1, 1, 1)),
    ],
)
def test_usnat_versions_by_layout(
    text: str, version: int, sdp: tuple[int, ...], kids: tuple[int, ...]
) -> None:
    section = us(decode_gpp(f"DBABLA~{text}"))
    assert section.version == version
    assert section.sensitive_data_processing == sdp
    assert section.known_child_sensitive_data_consents == kids


STATE_VECTORS = [
    # IABTechLab/iabgpp-java iabgpp-encoder/src/test/java/com/iab/gpp/encoder/section/
    # UsCaTest.java, UsVaTest.java, UsCoTest.java, UsUtTest.java, UsCtTest.java
    # (testDecode1 / testEncode2 of each).
    (
        8,
        "BVWSSSVY.YA",
        dict(
            sale_opt_out_notice=1,
            sharing_opt_out_notice=1,
            sensitive_data_limit_use_notice=1,
            sale_opt_out=1,
            sharing_opt_out=1,
            sensitive_data_processing=(2, 1, 0, 2, 1, 0, 2, 1, 0),
            known_child_sensitive_data_consents=(2, 1),
            personal_data_consents=1,
            targeted_advertising_opt_out=None,
            sharing_notice=None,
        ),
        True,
    ),
    (
        9,
        "BVWSSVY",
        dict(
            sharing_notice=1,
            sale_opt_out_notice=1,
            targeted_advertising_opt_out_notice=1,
            sale_opt_out=1,
            targeted_advertising_opt_out=1,
            sensitive_data_processing=(2, 1, 0, 2, 1, 0, 2, 1),
            known_child_sensitive_data_consents=(1,),
            sharing_opt_out=None,
        ),
        None,
    ),
    (
        10,
        "BVWSSVg.YA",
        dict(
            sharing_notice=1,
            sale_opt_out_notice=1,
            targeted_advertising_opt_out_notice=1,
            sale_opt_out=1,
            targeted_advertising_opt_out=1,
            sensitive_data_processing=(2, 1, 0, 2, 1, 0, 2),
            known_child_sensitive_data_consents=(1,),
        ),
        True,
    ),
    (
        11,
        "BVVkklWA",
        dict(
            sharing_notice=1,
            sale_opt_out_notice=1,
            targeted_advertising_opt_out_notice=1,
            sensitive_data_processing_opt_out_notice=1,
            sale_opt_out=1,
            targeted_advertising_opt_out=1,
            sensitive_data_processing=(2, 1, 0, 2, 1, 0, 2, 1),
            known_child_sensitive_data_consents=(1,),
        ),
        None,
    ),
    (
        12,
        "BVWSSZFg.YA",
        dict(
            sharing_notice=1,
            sale_opt_out_notice=1,
            targeted_advertising_opt_out_notice=1,
            sale_opt_out=1,
            targeted_advertising_opt_out=1,
            sensitive_data_processing=(2, 1, 0, 2, 1, 0, 2, 1),
            known_child_sensitive_data_consents=(2, 1, 0),
        ),
        True,
    ),
]


@pytest.mark.parametrize(("section_id", "text", "expected", "gpc"), STATE_VECTORS)
def test_state_sections(
    section_id: int, text: str, expected: dict[str, object], gpc: bool | None
) -> None:
    gpp = decode_gpp(f"{encode_gpp_header([section_id])}~{text}")
    section = us(gpp)
    assert section.section_id == section_id
    assert section.version == 1
    for name, value in expected.items():
        assert getattr(section, name) == value, name
    assert (
        section.mspa_covered_transaction,
        section.mspa_opt_out_option_mode,
        section.mspa_service_provider_mode,
    ) == (1, 1, 2)
    assert section.gpc is gpc


def test_state_sections_without_gpc_subsection() -> None:
    # iabgpp-java UsCoTest/UsCtTest testDecodeWithGpcSegmentExcluded
    for section_id, text in [(10, "BVWSSVg"), (12, "BVWSSZFg")]:
        section = us(decode_gpp(f"{encode_gpp_header([section_id])}~{text}"))
        assert section.gpc_subsection_present is False
        assert section.gpc is None


# ------------------------------------------------------------------ malformed


@pytest.mark.parametrize(
    "text",
    [
        # iabgpp-java GppModelTest.java (testDecode7, testDecode9) and UsNatTest.java
        # (revision with UsNat.VERSION = 1): the 16-category layout written under
        # Version 1. Version and length disagree, so no reading is trustworthy.
        "BAAAAAAAAABA.QA",
        "BAAAAAAAAQRA.QA",
        "BVVVkkkkkpFY.YA",
    ],
)
def test_usnat_version_1_with_version_2_length_is_rejected(text: str) -> None:
    err = _error(f"DBABLA~{text}")
    assert "version 1 needs 60 bits" in err.reason
    assert "fits version 2" in err.reason


def test_usnat_version_2_with_version_1_length_is_rejected() -> None:
    core = encode_us_core(7, 1, {})
    err = _error(f"DBABLA~C{core[1:]}")
    assert "version 2 needs 70 bits" in err.reason
    assert "fits version 1" in err.reason


def test_usnat_unknown_version() -> None:
    err = _error("DBABLA~DVVVVVVVVWA")
    assert "unsupported version 3" in err.reason


def test_truncated_usnat() -> None:
    err = _error("DBABLA~BVVVVVVV")
    assert "60 bits" in err.reason


def test_state_section_wrong_version() -> None:
    err = _error(f"{encode_gpp_header([9])}~CVWSSVY")
    assert "usva" in err.reason and "unsupported version 2" in err.reason


def test_two_bit_value_3_is_rejected() -> None:
    # SaleOptOut (bits 18-19 of usnat v1) set to 3
    bits = BitWriter().int(1, 6).raw("01" * 6).raw("11").raw("0" * 40).raw("000000")
    err = _error(f"DBABLA~{bits.base64url()}")
    assert "SaleOptOut has undefined value 3" in err.reason
    assert err.position == 18


def test_gpc_subsection_wrong_type() -> None:
    err = _error(f"DBABLA~BVVVVVVVVWA.{encode_gpc_subsection(True, subsection_type=2)}")
    assert "subsection type 2" in err.reason


def test_gpc_subsection_on_section_without_one() -> None:
    err = _error(f"{encode_gpp_header([9])}~BVWSSVY.YA")
    assert "no subsections" in err.reason


def test_too_many_subsections() -> None:
    err = _error("DBABLA~BVVVVVVVVWA.YA.YA")
    assert "one GPC subsection" in err.reason


def test_gpc_subsection_too_long() -> None:
    err = _error("DBABLA~BVVVVVVVVWA.YAAA")
    assert "GPC subsection" in err.reason


def test_section_padding_must_be_zero() -> None:
    err = _error("DBABLA~BVVVVVVVVWB")
    assert "non-zero" in err.reason


# -------------------------------------------------------------- round trips


@st.composite
def us_sections(draw: st.DrawFn) -> tuple[int, int, dict[str, object], bool | None]:
    section_id, version = draw(st.sampled_from(sorted(US_LAYOUTS)))
    values: dict[str, object] = {}
    for name, count in US_LAYOUTS[(section_id, version)]:
        if count is None:
            values[name] = draw(st.integers(0, 2))
        else:
            values[name] = tuple(draw(st.lists(st.integers(0, 2), min_size=count, max_size=count)))
    gpc = draw(st.one_of(st.none(), st.booleans())) if US_HAS_GPC[section_id] else None
    return section_id, version, values, gpc


@settings(max_examples=200, deadline=None)
@given(us_sections(), st.booleans())
def test_us_section_round_trip(
    case: tuple[int, int, dict[str, object], bool | None], byte_pad: bool
) -> None:
    section_id, version, values, gpc = case
    text = encode_us_core(section_id, version, values, byte_pad=byte_pad)  # type: ignore[arg-type]
    if gpc is not None:
        text += "." + encode_gpc_subsection(gpc)
    section = us(decode_gpp(f"{encode_gpp_header([section_id])}~{text}"))
    assert section.version == version
    for name, value in values.items():
        expected = (
            (value,)
            if name == "known_child_sensitive_data_consents" and isinstance(value, int)
            else value
        )
        assert getattr(section, name) == expected, name
    assert section.gpc is gpc
