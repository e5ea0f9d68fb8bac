"""Tests for prefsync_audit.signals.gpc (Global Privacy Control)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals.gpc import GpcSignal, decode_gpc


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "true",
        "True",
        "TRUE",
        " 1 ",
        "Sec-GPC: 1",
        "sec-gpc:1",
        "SEC-GPC :  1",
        "Sec-GPC: true",
    ],
)
def test_set_flags_opt_out(text: str) -> None:
    assert decode_gpc(text) == GpcSignal(opt_out=True)


@pytest.mark.parametrize("text", [None, "", "   ", "0", "false", "False", "Sec-GPC: 0"])
def test_unset_or_absent_is_no_preference(text: str | None) -> None:
    # Absent is never a grant: the model has no False, only "no preference".
    assert decode_gpc(text) == GpcSignal(opt_out=None)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("yes", 0),
        ("2", 0),
        ("  maybe", 2),
        ("Sec-GPC: 2", 9),
        ("Sec-GPC:", 8),
        ("DNT: 1", 0),
        ("1 1", 0),
    ],
)
def test_garbage_is_rejected(text: str, position: int) -> None:
    with pytest.raises(SignalDecodeError) as info:
        decode_gpc(text)
    assert info.value.position == position


def test_not_text() -> None:
    with pytest.raises(SignalDecodeError):
        decode_gpc(1)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=20) | st.sampled_from(["Sec-GPC: ", "sec-gpc:"]).map(lambda h: h + "x"))
def test_random_text_only_raises_decode_errors(text: str) -> None:
    try:
        signal = decode_gpc(text)
    except SignalDecodeError:
        return
    assert signal.opt_out in (True, None)
