"""Tests for prefsync_audit.signals.consent_mode (Google Consent Mode v2)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals.consent_mode import (
    CONSENT_TYPES,
    ConsentModeSignal,
    decode_consent_mode,
)


def test_key_value_form() -> None:
    signal = decode_consent_mode("ad_storage=granted,analytics_storage=denied")
    assert signal == ConsentModeSignal(ad_storage="granted", analytics_storage="denied")
    assert signal.states() == {"ad_storage": "granted", "analytics_storage": "denied"}


def test_key_value_form_with_spaces_and_all_types() -> None:
    text = ", ".join(
        f"{name} = {'granted' if i % 2 else 'denied'}" for i, name in enumerate(CONSENT_TYPES)
    )
    signal = decode_consent_mode(text)
    assert list(signal.states()) == list(CONSENT_TYPES)
    assert signal.ad_storage == "denied" and signal.analytics_storage == "granted"


def test_json_form() -> None:
    signal = decode_consent_mode(
        json.dumps(
            {"ad_storage": "granted", "ad_user_data": "denied", "ad_personalization": "denied"}
        )
    )
    assert signal.ad_storage == "granted"
    assert signal.ad_user_data == "denied"
    assert signal.ad_personalization == "denied"
    assert signal.analytics_storage is None


def test_repeated_type_with_same_value_is_fine() -> None:
    assert decode_consent_mode("ad_storage=denied,ad_storage=denied").ad_storage == "denied"


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("ad_storage=granted,ads_storage=denied", 19, "unknown Consent Mode type 'ads_storage'"),
        ("ad_storage=yes", 0, "must be 'granted' or 'denied'"),
        ("ad_storage=Granted", 0, "must be 'granted' or 'denied'"),
        ("ad_storage=granted,,analytics_storage=denied", 19, "empty"),
        ("ad_storage", 0, "not type=value"),
        ("ad_storage=granted,ad_storage=denied", 19, "twice"),
        ('{"ad_storage": "granted"', 24, "JSON is invalid"),
        ('{"ad_storage": true}', 1, "must be a string"),
        ('{"ad_storage": "granted", "ad_storage": "denied"}', 1, "twice"),
        ('{"analytics": "granted"}', 1, "unknown Consent Mode type"),
        ("{}", 0, "non-empty object"),
        ('{"ad_storage": {"x": 1}}', 1, "must be a string"),
        ('[["ad_storage", "granted"]]', 0, "not type=value"),
    ],
)
def test_malformed(text: str, position: int, fragment: str) -> None:
    with pytest.raises(SignalDecodeError) as info:
        decode_consent_mode(text)
    assert fragment in info.value.reason
    assert info.value.position == position


def test_not_text() -> None:
    with pytest.raises(SignalDecodeError):
        decode_consent_mode({"ad_storage": "granted"})  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(
    st.text(max_size=60)
    | st.lists(
        st.tuples(
            st.sampled_from([*CONSENT_TYPES, "x", ""]), st.sampled_from(["granted", "denied", "?"])
        ),
        max_size=5,
    ).map(lambda pairs: ",".join(f"{k}={v}" for k, v in pairs))
    | st.dictionaries(st.text(max_size=20), st.one_of(st.text(max_size=8), st.integers())).map(
        json.dumps
    )
)
def test_random_text_only_raises_decode_errors(text: str) -> None:
    try:
        signal = decode_consent_mode(text)
    except SignalDecodeError:
        return
    assert set(signal.states().values()) <= {"granted", "denied"}
