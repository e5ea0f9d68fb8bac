"""Tests for prefsync_audit.signals._bits (base64url bit reader)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.signals._bits import BitReader, base64url_to_bits

from ._encoder import BitWriter

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_base64url_bits() -> None:
    assert base64url_to_bits("A") == "000000"
    assert base64url_to_bits("_-") == "111111111110"
    assert base64url_to_bits("Bg==") == "000001100000"  # trailing padding ignored


@pytest.mark.parametrize(("text", "position"), [("AB+C", 2), ("A/", 1), ("A=B", 1), ("", 0)])
def test_base64url_rejects_bad_characters(text: str, position: int) -> None:
    with pytest.raises(SignalDecodeError) as info:
        base64url_to_bits(text)
    assert info.value.position == position


def test_char_offset_is_added() -> None:
    with pytest.raises(SignalDecodeError) as info:
        base64url_to_bits("AA!", char_offset=7)
    assert info.value.position == 9


def test_fixed_fields() -> None:
    reader = BitReader("0001011" + "000111" + "000000" + "11010", context="t")
    assert reader.read_int(4) == 1
    assert reader.read_bool() is False
    assert reader.read_bool() is True
    assert reader.read_bool() is True
    assert reader.read_letters(2) == "HA"
    assert reader.read_bitfield(5) == {1, 2, 4}
    assert reader.remaining == 0


def test_reading_past_end_names_bit_offset() -> None:
    reader = BitReader("10101", context="ctx")
    reader.read_int(3)
    with pytest.raises(SignalDecodeError) as info:
        reader.read_int(6, "Field")
    assert info.value.position == 3
    assert info.value.reason.startswith("ctx: unexpected end of data reading Field")


def test_letters_outside_a_to_z() -> None:
    reader = BitReader("000000" + "011010")
    with pytest.raises(SignalDecodeError) as info:
        reader.read_letters(2, "Lang")
    assert info.value.position == 6


def test_datetime_deciseconds() -> None:
    # 2020-01-26T17:01:00Z = 15800580600 deciseconds
    reader = BitReader(format(15800580600, "036b"))
    assert reader.read_datetime() == datetime(2020, 1, 26, 17, 1, tzinfo=UTC)
    reader = BitReader("1" * 36)
    assert reader.read_datetime().year == 2187


@pytest.mark.parametrize(
    ("bits", "value"),
    # GPP "Consent String Specification.md", Fibonacci table: 1..7
    [("11", 1), ("011", 2), ("0011", 3), ("1011", 4), ("00011", 5), ("10011", 6), ("01011", 7)],
)
def test_fibonacci_spec_table(bits: str, value: int) -> None:
    reader = BitReader(bits + "0")
    assert reader.read_fibonacci() == value
    assert reader.position == len(bits)


def test_fibonacci_unterminated_and_too_long() -> None:
    with pytest.raises(SignalDecodeError, match="end of data"):
        BitReader("0101010").read_fibonacci()
    with pytest.raises(SignalDecodeError, match="longer than 40"):
        BitReader("0" * 60 + "11").read_fibonacci()


def test_fibonacci_range_spec_example() -> None:
    # GPP spec, Range(Fibonacci) example: [3, 5, 6, 7, 8]
    reader = BitReader("000000000010" + "0" + "0011" + "1" + "011" + "0011")
    assert reader.read_fibonacci_range("ids", max_items=10) == (3, 5, 6, 7, 8)


def test_fibonacci_range_limit() -> None:
    bits = BitWriter().fibonacci_range(list(range(1, 30))).bitstring
    with pytest.raises(SignalDecodeError, match="more than 5 ids"):
        BitReader(bits).read_fibonacci_range("ids", max_items=5)


def test_int_range_spec_example() -> None:
    # GPP spec, Range(Int) example: [3, 5, 6, 7, 8]
    bits = "000000000010" + "0" + "0000000000000011" + "1" + "0000000000000101" + "0000000000001000"
    assert BitReader(bits).read_int_ranges("ids") == {3, 5, 6, 7, 8}


def test_zero_padding() -> None:
    reader = BitReader("1100000")
    reader.read_int(2)
    reader.expect_zero_padding()
    reader = BitReader("110010")
    reader.read_int(2)
    with pytest.raises(SignalDecodeError) as info:
        reader.expect_zero_padding()
    assert info.value.position == 4


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10**7), max_size=20))
def test_fibonacci_round_trip(values: list[int]) -> None:
    writer = BitWriter()
    for value in values:
        writer.fibonacci(value)
    reader = BitReader(writer.bitstring)
    assert [reader.read_fibonacci() for _ in values] == values
    assert reader.remaining == 0


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(1, 5000), max_size=40))
def test_fibonacci_range_round_trip(ids: set[int]) -> None:
    reader = BitReader(BitWriter().fibonacci_range(sorted(ids)).bitstring)
    assert reader.read_fibonacci_range("ids", max_items=len(ids)) == tuple(sorted(ids))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=B64URL, min_size=1, max_size=40), st.lists(st.integers(0, 3), max_size=12))
def test_random_reads_only_raise_decode_errors(text: str, ops: list[int]) -> None:
    reader = BitReader.from_base64url(text)
    try:
        for op in ops:
            [
                lambda: reader.read_int(7),
                reader.read_fibonacci,
                lambda: reader.read_fibonacci_range("r", max_items=100),
                lambda: reader.read_int_ranges("r", max_id=500),
            ][op]()
    except SignalDecodeError:
        pass
