"""The vectorized identifier paths give exactly what the per-value normalizers give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefsync_audit._phones import fast_phones, nanp_valid
from prefsync_audit.normalize import (
    fast_emails,
    identifier_fast_path,
    identifier_normalizer,
    make_phone_normalizer,
    normalize_email,
)


def _agree(values: list[str], fast, per_value) -> int:
    """Assert every value the fast path decides matches the per-value result;
    return how many it decided."""
    results, decided = fast(pa.array(values, pa.string()))
    assert isinstance(results, pa.Array)  # no Python string per row
    for value, result, was_decided in zip(values, results.to_pylist(), decided, strict=True):
        if was_decided:
            assert result == per_value(value), value
    return int(decided.sum())


def _national_numbers(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    # Every area code 200-999 several times, with random exchanges and lines,
    # including N11 and 555 exchanges and Caribbean area codes.
    area = np.repeat(np.arange(200, 1000), count // 800 + 1)[:count]
    exchange = rng.integers(0, 1000, count)
    line = rng.integers(0, 10000, count)
    return [f"{a:03d}{e:03d}{s:04d}" for a, e, s in zip(area, exchange, line, strict=True)]


def test_nanp_validity_matches_phonenumbers_for_every_area_code() -> None:
    import phonenumbers

    nationals = _national_numbers(40_000, seed=3)
    expected = [
        phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=1, national_number=int(n))
        )
        for n in nationals
    ]
    got = nanp_valid(pa.array(nationals, pa.string()))
    assert got.tolist() == expected
    # Both answers occur, so the comparison means something.
    assert 0 < sum(expected) < len(expected)


@pytest.mark.parametrize(
    "spelling",
    [
        "({a}) {e}-{s}",
        "1-{a}-{e}-{s}",
        "+1 {a} {e} {s}",
        "{a}.{e}.{s}",
        "{a}{e}{s}",
        "+1{a}{e}{s}",
        " 1 ({a}) {e} {s} ",
        "+{a}{e}{s}",
        "0{a}{e}{s}",
        "{a}-{e}-{s} x12",
        "+44 20 {e} {s}",
        "{e}-{s}",
    ],
)
def test_fast_phones_agree_with_the_per_value_normalizer(spelling: str) -> None:
    nationals = _national_numbers(3_000, seed=len(spelling))
    values = [spelling.format(a=n[:3], e=n[3:6], s=n[6:]) for n in nationals]
    decided = _agree(values, lambda t: fast_phones(t, nanp=True), make_phone_normalizer("US"))
    if spelling not in ("0{a}{e}{s}", "{a}-{e}-{s} x12", "+44 20 {e} {s}", "{e}-{s}"):
        assert decided == len(values)  # the common spellings never need the slow path


def test_fast_phones_outside_north_america_only_keep_e164() -> None:
    values = ["+442079460958", "020 7946 0958", "+1 212 555 0123"]
    results, decided = fast_phones(pa.array(values), nanp=False)
    assert decided.tolist() == [True, False, False]
    assert results.to_pylist() == ["+442079460958", None, None]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789 +-().x\t", max_size=18), max_size=30))
def test_fast_phones_agree_on_arbitrary_punctuation(values: list[str]) -> None:
    _agree(values, lambda t: fast_phones(t, nanp=True), make_phone_normalizer("US"))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("aB.@ _-+\t\x1c\x0bé\u00a0Z9")), max_size=14),
        max_size=30,
    )
)
def test_fast_emails_agree_with_normalize_email(values: list[str]) -> None:
    _agree(values, fast_emails, normalize_email)


def test_fast_emails_decide_ascii_and_leave_the_rest() -> None:
    values = [" Ann@Example.COM ", "no-at-sign", "ÉLodie@example.com", "a b@c.d"]
    results, decided = fast_emails(pa.array(values))
    assert decided.tolist() == [True, True, False, True]
    assert results.to_pylist()[:2] == ["ann@example.com", None]
    assert results.to_pylist()[3] is None


@pytest.mark.parametrize("normalizer", ["sha256", "id"])
@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.text(alphabet="0123456789abcdefABCDEF ", min_size=62, max_size=66),
            st.text(alphabet=" \tab1é\u2003", max_size=6),
        ),
        max_size=20,
    )
)
def test_fast_hashes_and_ids_agree(normalizer: str, values: list[str]) -> None:
    _agree(
        values,
        identifier_fast_path(normalizer, "US"),
        identifier_normalizer("email_sha256", normalizer, "plain", "US"),
    )
