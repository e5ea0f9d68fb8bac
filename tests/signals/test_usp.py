"""Tests for prefsync_audit.signals.usp (US Privacy string)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals.usp import UspString, decode_usp


@pytest.mark.parametrize(
    ("text", "expected", "opted_out"),
    [
        # STANDARDS.md: 1YYN = notice given, opted out; 1YNN via the GPP vectors
        # (iabgpp-java GppModelTest.java); 1--- and 1Y-- from the same file's
        # testDecodingNull / testNullConstructor.
        ("1YNN", UspString(1, "Y", "N", "N"), False),
        ("1YYN", UspString(1, "Y", "Y", "N"), True),
        ("1---", UspString(1, "-", "-", "-"), None),
        ("1Y--", UspString(1, "Y", "-", "-"), None),
        ("1NYY", UspString(1, "N", "Y", "Y"), True),
    ],
)
def test_valid_strings(text: str, expected: UspString, opted_out: bool | None) -> None:
    decoded = decode_usp(text)
    assert decoded == expected
    assert decoded.opted_out is opted_out


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty"),
        ("2YNN", 0, "version"),
        ("YNN", 0, "version"),
        ("1YXN", 2, "opt-out-of-sale"),
        ("1ZNN", 1, "notice"),
        ("1YN?", 3, "LSPA"),
        ("1ynn", 1, "notice"),
        ("1YN", 3, "4 characters"),
        ("1YNNN", 4, "4 characters"),
        (" 1YNN", 0, "version"),
    ],
)
def test_malformed(text: str, position: int, fragment: str) -> None:
    with pytest.raises(SignalDecodeError) as info:
        decode_usp(text)
    assert info.value.position == position
    assert fragment in info.value.reason


def test_char_offset_shifts_positions() -> None:
    with pytest.raises(SignalDecodeError) as info:
        decode_usp("1YXN", char_offset=10)
    assert info.value.position == 12


def test_not_text() -> None:
    with pytest.raises(SignalDecodeError):
        decode_usp(1234)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=8) | st.text(alphabet="1YN-yn0 ", max_size=6))
def test_random_text_only_raises_decode_errors(text: str) -> None:
    try:
        decoded = decode_usp(text)
    except SignalDecodeError:
        return
    assert text == f"1{decoded.notice}{decoded.opt_out_sale}{decoded.lspa_covered}"
