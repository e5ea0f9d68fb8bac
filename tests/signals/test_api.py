"""Tests for the public API: decode(), to_preferences() and to_dict()."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.signals import (
    SIGNAL_KINDS,
    ConsentModeSignal,
    GpcSignal,
    GppString,
    SignalDecodeError,
    SignalMapping,
    TCString,
    UspString,
    decode,
    to_dict,
    to_preferences,
)

from ._encoder import TcModel, encode_gpc_subsection, encode_gpp_header, encode_tc_string

TCF_1 = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"
GPP_2 = "DBACNYA~CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA~1YNN"


@pytest.mark.parametrize(
    ("kind", "text", "cls"),
    [
        ("tcf", TCF_1, TCString),
        ("gpp", "DBABTA~1YNN", GppString),
        ("usp", "1YNN", UspString),
        ("gpc", "Sec-GPC: 1", GpcSignal),
        ("gpc", None, GpcSignal),
        ("consent_mode", "ad_storage=granted", ConsentModeSignal),
    ],
)
def test_decode_dispatch(kind: str, text: str | None, cls: type) -> None:
    assert isinstance(decode(kind, text), cls)  # type: ignore[arg-type]


def test_decode_unknown_kind() -> None:
    with pytest.raises(SignalDecodeError, match="unknown signal kind 'tcf2'"):
        decode("tcf2", TCF_1)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [k for k in SIGNAL_KINDS if k != "gpc"])
def test_none_is_an_error_except_for_gpc(kind: str) -> None:
    with pytest.raises(SignalDecodeError):
        decode(kind, None)  # type: ignore[arg-type]


# ------------------------------------------------------------- to_preferences


def test_tcf_groups_need_every_purpose() -> None:
    model = TcModel(purposes_consent={1, 2, 3, 4, 5, 8, 9}, special_feature_opt_ins=set())
    prefs = dict(to_preferences(decode("tcf", encode_tc_string(model))))
    assert prefs == {
        "storage": "granted",
        "advertising": "denied",  # purpose 7 missing
        "personalization": "denied",  # purpose 6 missing
        "analytics": "granted",
        "precise_geolocation": "denied",
    }


def test_tcf_all_consented() -> None:
    model = TcModel(purposes_consent=set(range(1, 11)), special_feature_opt_ins={1, 2})
    prefs = to_preferences(decode("tcf", encode_tc_string(model)))
    assert all(state == "granted" for _, state in prefs)


def test_tcf_purpose_one_treatment_makes_storage_unknown() -> None:
    # Standards vector: PurposeOneTreatment = true, consents {2, 10}, special feature 1.
    prefs = dict(to_preferences(decode("tcf", TCF_1)))
    assert prefs["storage"] == "unknown"
    assert prefs["advertising"] == "denied"
    assert prefs["precise_geolocation"] == "granted"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1YYN", [("sale_sharing", "denied")]),
        ("1YNN", [("sale_sharing", "granted")]),
        ("1---", [("sale_sharing", "unknown")]),
    ],
)
def test_usp_mapping(text: str, expected: list[tuple[str, str]]) -> None:
    assert to_preferences(decode("usp", text)) == expected


def test_gpc_mapping() -> None:
    assert to_preferences(decode("gpc", "1")) == [
        ("sale_sharing", "denied"),
        ("advertising", "denied"),
    ]
    assert to_preferences(decode("gpc", None)) == []
    assert to_preferences(decode("gpc", "0")) == []


def test_consent_mode_mapping() -> None:
    prefs = to_preferences(
        decode("consent_mode", "ad_storage=granted,ad_user_data=denied,analytics_storage=granted")
    )
    assert prefs == [("advertising", "denied"), ("analytics", "granted")]
    prefs = to_preferences(
        decode("consent_mode", '{"ad_storage":"granted","security_storage":"denied"}')
    )
    assert prefs == [("advertising", "granted")]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        # usnat: 1 = opted out → denied
        ("BVVVVVVVVWA", {"sale_sharing": "denied", "advertising": "denied"}),
        # 2 = did not opt out → granted
        ("BVQqAAAAAgA.QA", {"sale_sharing": "granted", "advertising": "granted"}),
        # 0 = not applicable → unknown
        ("BAAAAAAAAQA", {"sale_sharing": "unknown", "advertising": "unknown"}),
        # the Gpc bit is an opt-out even where the core says "did not opt out"
        (
            "BVQqAAAAAgA." + encode_gpc_subsection(True),
            {"sale_sharing": "denied", "advertising": "denied"},
        ),
    ],
)
def test_usnat_mapping(section: str, expected: dict[str, str]) -> None:
    assert dict(to_preferences(decode("gpp", f"DBABLA~{section}"))) == expected


def test_usca_has_no_targeted_advertising_field() -> None:
    gpp = decode("gpp", f"{encode_gpp_header([8])}~BVWSSSVY")
    assert to_preferences(gpp) == [("sale_sharing", "denied")]


def test_gpp_merges_sections_denied_first() -> None:
    # TCF says advertising denied, uspv1 says sale_sharing granted.
    prefs = dict(to_preferences(decode("gpp", GPP_2)))
    assert prefs["sale_sharing"] == "granted"
    assert prefs["advertising"] == "denied"
    # usnat opted out + uspv1 did not: the opt-out wins.
    both = decode("gpp", f"{encode_gpp_header([6, 7])}~1YNN~BVVVVVVVVWA")
    assert dict(to_preferences(both))["sale_sharing"] == "denied"


def test_undecoded_sections_give_nothing() -> None:
    assert to_preferences(decode("gpp", f"{encode_gpp_header([5])}~whatever")) == []


def test_custom_mapping() -> None:
    mapping = SignalMapping(
        tcf_purposes={"ads": (2,)},
        tcf_special_features={},
        gpc=("do_not_sell",),
        consent_mode={"personalization": ("personalization_storage",)},
    )
    assert to_preferences(decode("tcf", TCF_1), mapping) == [("ads", "granted")]
    assert to_preferences(decode("gpc", "1"), mapping) == [("do_not_sell", "denied")]
    assert to_preferences(decode("consent_mode", "personalization_storage=granted"), mapping) == [
        ("personalization", "granted")
    ]


def test_to_preferences_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        to_preferences("1YNN")  # type: ignore[arg-type]


# -------------------------------------------------------------------- to_dict


def test_to_dict_tcf_is_json_with_z_datetimes_and_sorted_lists() -> None:
    data = to_dict(decode("tcf", TCF_1))
    assert data["kind"] == "tcf"
    assert data["created"] == "2020-01-26T17:01:00Z"
    assert data["purposes_consent"] == [2, 10]
    assert data["disclosed_vendors"] is None
    assert json.loads(json.dumps(data)) == data


def test_to_dict_subsecond_datetime() -> None:
    data = to_dict(decode("tcf", "COv__-wOv__-wC2AAAENAPCgAAAAAAAAAAAAA_wAQA_gEBABAEAAAA"))
    assert data["created"].endswith(".400Z")


def test_to_dict_gpp_nests_sections() -> None:
    data = to_dict(decode("gpp", GPP_2))
    assert data["kind"] == "gpp"
    assert data["section_ids"] == [2, 6]
    tcf, usp = data["sections"]
    assert tcf["name"] == "tcfeuv2" and tcf["data"]["kind"] == "tcf"
    assert tcf["data"]["allowed_vendors"] == []
    assert usp["data"] == {
        "kind": "usp",
        "version": 1,
        "notice": "Y",
        "opt_out_sale": "N",
        "lspa_covered": "N",
    }
    json.dumps(data)


def test_to_dict_restrictions_and_other_kinds() -> None:
    tc = decode("tcf", encode_tc_string(TcModel(restrictions=[(2, 1, {9, 3})])))
    restriction = to_dict(tc)["publisher_restrictions"][0]
    assert restriction == {
        "purpose_id": 2,
        "restriction_type": 1,
        "vendor_ids": [3, 9],
        "restriction_name": "require_consent",
    }
    assert to_dict(decode("gpc", None)) == {"kind": "gpc", "opt_out": None}
    assert to_dict(decode("consent_mode", "ad_storage=denied"))["ad_storage"] == "denied"
    usnat = to_dict(decode("gpp", "DBABLA~BVVVVVVVVWA"))["sections"][0]["data"]
    assert usnat["kind"] == "gpp_us_section"
    assert usnat["sensitive_data_processing"] == [1] * 12


def test_to_dict_rejects_non_signals() -> None:
    with pytest.raises(TypeError):
        to_dict({"a": 1})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SIGNAL_KINDS), st.text(max_size=60))
def test_dispatcher_random_text_only_raises_decode_errors(kind: str, text: str) -> None:
    try:
        decoded = decode(kind, text)  # type: ignore[arg-type]
    except SignalDecodeError:
        return
    json.dumps(to_dict(decoded))
    to_preferences(decoded)
