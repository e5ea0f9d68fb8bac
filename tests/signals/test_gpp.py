"""Tests for prefsync_audit.signals.gpp: header, section dispatch, malformed strings."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals import UsPrivacySection
from prefsync_audit.signals.gpp import GppString, decode_gpp
from prefsync_audit.signals.tcf import TCString
from prefsync_audit.signals.usp import UspString

from ._encoder import encode_gpp_header

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TCF_880 = "CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA"


def us(gpp: GppString, index: int = 0) -> UsPrivacySection:
    data = gpp.sections[index].data
    assert isinstance(data, UsPrivacySection)
    return data


# --------------------------------------------------------------- STANDARDS.md


def test_standards_uspv1_only() -> None:
    # STANDARDS.md; IABTechLab/iabgpp-java iabgpp-encoder/src/test/java/com/iab/gpp/
    # encoder/GppModelTest.java (testEncodeUspv1)
    gpp = decode_gpp("DBABTA~1YNN")
    assert gpp.version == 1
    assert gpp.section_ids == (6,)
    section = gpp.sections[0]
    assert (section.section_id, section.name, section.decoded, section.raw) == (
        6,
        "uspv1",
        True,
        "1YNN",
    )
    assert section.data == UspString(version=1, notice="Y", opt_out_sale="N", lspa_covered="N")


def test_standards_tcfeuv2_and_uspv1() -> None:
    # STANDARDS.md; iabgpp-java GppModelTest.java (testDecodeUspv1AndTcfEuV2)
    gpp = decode_gpp(f"DBACNYA~{TCF_880}~1YNN")
    assert gpp.section_ids == (2, 6)
    tcf = gpp.section("tcfeuv2")
    assert tcf is not None and isinstance(tcf.data, TCString)
    assert tcf.data.cmp_id == 880
    assert tcf.data.vendor_list_version == 48
    assert tcf.data.created == datetime(2022, 1, 1, tzinfo=UTC)
    assert tcf.data.last_updated == datetime(2022, 1, 1, tzinfo=UTC)
    assert tcf.data.consent_language == "EN"
    assert tcf.data.publisher_cc == "AA"
    assert tcf.data.tcf_policy_version == 2
    assert (tcf.data.cmp_version, tcf.data.consent_screen) == (0, 0)
    assert tcf.data.is_service_specific is False
    assert tcf.data.use_non_standard_texts is False
    assert tcf.data.purpose_one_treatment is False
    usp = gpp.section(6)
    assert usp is not None and usp.data == UspString(1, "Y", "N", "N")


def test_standards_usnat_v1_all_opted_out() -> None:
    # STANDARDS.md
    section = us(decode_gpp("DBABLA~BVVVVVVVVWA"))
    assert (section.section_id, section.name, section.version) == (7, "usnat", 1)
    assert section.sharing_notice == 1
    assert section.sale_opt_out_notice == 1
    assert section.sharing_opt_out_notice == 1
    assert section.targeted_advertising_opt_out_notice == 1
    assert section.sensitive_data_processing_opt_out_notice == 1
    assert section.sensitive_data_limit_use_notice == 1
    assert section.sale_opt_out == 1
    assert section.sharing_opt_out == 1
    assert section.targeted_advertising_opt_out == 1
    assert section.gpc_subsection_present is False and section.gpc is None


# ---------------------------------------------------------- reference vectors


@pytest.mark.parametrize(
    ("header", "ids"),
    [
        # InteractiveAdvertisingBureau/Global-Privacy-Platform
        # "Core/Consent String Specification.md", GPP String Examples 1-3.
        ("DBABMA", (2,)),
        ("DBACNYA", (2, 6)),
        ("DBABjw", (5, 6)),
    ],
)
def test_spec_examples(header: str, ids: tuple[int, ...]) -> None:
    sections = ["CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", "1YNN"][: len(ids)]
    gpp = decode_gpp("~".join([header, *sections]))
    assert gpp.section_ids == ids
    if ids == (5, 6):  # Canadian TCF is not decoded here: kept raw, marked undecoded
        assert gpp.sections[0].decoded is False
        assert gpp.sections[0].data is None
        assert gpp.sections[0].name == "tcfcav1"
        assert gpp.sections[0].raw == sections[0]


def test_unknown_section_kept_raw() -> None:
    # iabgpp-java GppModelTest.java (testDecodeUspv1AndTcfEuV2AndTcfCaV1)
    canadian = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACAAA.fHHHA4444ao"
    gpp = decode_gpp(f"DBACOeA~{TCF_880}~{canadian}~1YNN")
    assert gpp.section_ids == (2, 5, 6)
    assert [s.decoded for s in gpp.sections] == [True, False, True]
    assert gpp.sections[1].raw == canadian


def test_unregistered_section_id_has_no_name() -> None:
    gpp = decode_gpp(f"{encode_gpp_header([6, 40])}~1YNN~anything.at-all")
    assert gpp.sections[1].name is None
    assert gpp.sections[1].decoded is False
    assert gpp.sections[1].raw == "anything.at-all"


def test_iabgpp_uspv1_opted_out() -> None:
    # iabgpp-java GppModelTest.java (testDecode4)
    assert decode_gpp("DBABTA~1YYN").sections[0].data == UspString(1, "Y", "Y", "N")


def test_many_sections_in_one_string() -> None:
    texts = ["1YNN", "BVVVVVVVVWA", "BVWSSSVY.YA", "BVWSSVY", "BVWSSVg", "BVVkklWA", "BVWSSZFg"]
    gpp = decode_gpp("~".join([encode_gpp_header([6, 7, 8, 9, 10, 11, 12]), *texts]))
    assert [s.name for s in gpp.sections] == [
        "uspv1",
        "usnat",
        "usca",
        "usva",
        "usco",
        "usut",
        "usct",
    ]
    assert all(s.decoded for s in gpp.sections)


def test_empty_header_is_a_string_with_no_sections() -> None:
    # iabgpp-java GppModelTest.java (testEncodeDefault) encodes nothing as "DBAA".
    gpp = decode_gpp("DBAA")
    assert gpp.section_ids == ()
    assert gpp.sections == ()


# ------------------------------------------------------------------ malformed


def _error(text: str) -> SignalDecodeError:
    with pytest.raises(SignalDecodeError) as info:
        decode_gpp(text)
    return info.value


def test_empty_string() -> None:
    assert "empty" in _error("").reason


@pytest.mark.parametrize(
    ("text", "listed", "present"),
    [
        # Header examples of the GPP spec with their section texts missing.
        ("DBABM", 1, 0),
        ("DBACNY~1YNN", 2, 1),
        ("DBABTA~1YNN~1YNN", 1, 2),
    ],
)
def test_section_count_mismatch(text: str, listed: int, present: int) -> None:
    err = _error(text)
    assert "GPP header" in err.reason
    assert f"{present} section text(s)" in err.reason
    if listed < present:
        assert f"lists {listed} section(s)" in err.reason
    else:
        assert "more sections than" in err.reason


def test_header_type_must_be_3() -> None:
    # iabgpp-java GppModelTest.java (testDecodingExceptionValidStringButNotGPP
    # uses a TC string; its first character 'D' then fails on Version).
    err = _error("CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA")
    assert "Type must be 3" in err.reason and err.position == 0
    err = _error(
        "DP48G0AP48G0AEsACCPLAkEgAAAAAEPgAB5YAAAQaQD2F2K2kKFkPCmQWYAQBCijYEAhQAAAAkCBIAAgAUgQ"
    )
    assert "version 15" in err.reason and err.position == 6


def test_truncated_header() -> None:
    err = _error("DBA")
    assert "end of data" in err.reason
    assert err.position == 12


def test_header_non_zero_padding() -> None:
    err = _error("DBABTB~1YNN")
    assert "non-zero" in err.reason


def test_bad_character_in_section_reports_absolute_position() -> None:
    err = _error("DBABLA~BVVV*VVVVWA")
    assert err.position == 11


def test_empty_section_text() -> None:
    err = _error("DBACNYA~~1YNN")
    assert "section 2" in err.reason and err.position == 8


def test_uspv1_error_names_section_and_absolute_position() -> None:
    err = _error("DBABTA~1YXN")
    assert "uspv1" in err.reason
    assert err.position == 9


def test_malformed_tcf_section_names_section() -> None:
    err = _error("DBABMA~CPSG_8APSG_8ANwAAAE")
    assert "GPP section 2 (tcfeuv2)" in err.reason


def test_not_text() -> None:
    with pytest.raises(SignalDecodeError):
        decode_gpp(b"DBABTA~1YNN")  # type: ignore[arg-type]


# -------------------------------------------------------------- round trips


def test_header_encoding_matches_spec_examples() -> None:
    # GPP spec header examples: DBABM (2), DBACNY (2, 6), DBABjw (5, 6).
    assert encode_gpp_header([2]) == "DBABM"
    assert encode_gpp_header([2, 6]) == "DBACNY"
    assert encode_gpp_header([5, 6]) == "DBABjw"


# iabgpp-java vectors (see test_us_sections.py) for every decoded section id.
VALID_TEXT = {
    2: TCF_880,
    6: "1YNN",
    7: "BVVVVVVVVWA",
    8: "BVWSSSVY.YA",
    9: "BVWSSVY",
    10: "BVWSSVg.YA",
    11: "BVVkklWA",
    12: "BVWSSZFg.YA",
}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=0, max_size=30, unique=True))
def test_header_round_trip(ids: list[int]) -> None:
    ids = sorted(ids)
    # Undecoded ids keep any text; decoded ones need a valid section.
    texts = [VALID_TEXT.get(section_id, f"raw{section_id}") for section_id in ids]
    gpp = decode_gpp("~".join([encode_gpp_header(ids), *texts]))
    assert list(gpp.section_ids) == ids
    assert [s.raw for s in gpp.sections] == texts
    assert [s.decoded for s in gpp.sections] == [i in VALID_TEXT for i in ids]


# ---------------------------------------------------------- property tests


def _only_decode_errors(text: str) -> None:
    with contextlib.suppress(SignalDecodeError):
        decode_gpp(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_random_text_only_raises_decode_errors(text: str) -> None:
    _only_decode_errors(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=B64URL + "~.", max_size=100))
def test_random_base64url_only_raises_decode_errors(text: str) -> None:
    _only_decode_errors("DB" + text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([2, 6, 7, 8, 9, 10, 11, 12]), min_size=1, max_size=4, unique=True),
    st.lists(st.text(alphabet=B64URL + ".", max_size=30), min_size=4, max_size=4),
)
def test_known_sections_with_random_bodies_only_raise_decode_errors(
    ids: Sequence[int], bodies: list[str]
) -> None:
    ids = sorted(ids)
    _only_decode_errors("~".join([encode_gpp_header(ids), *bodies[: len(ids)]]))
