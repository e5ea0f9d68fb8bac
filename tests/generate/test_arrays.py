"""Vectorized text building matches the slow, obvious way."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from prefsync_audit.generate import _arrays as ar


@pytest.mark.parametrize(
    ("layout", "pattern"),
    [
        ("iso", "%Y-%m-%dT%H:%M:%SZ"),
        ("salesforce", "%Y-%m-%dT%H:%M:%S.000Z"),
        ("mailchimp", "%Y-%m-%d %H:%M:%S"),
    ],
)
def test_format_times_matches_strftime(layout, pattern):
    rng = np.random.default_rng(0)
    seconds = rng.integers(631152000, 4102444799, 2000)  # 1990 … 2099
    seconds[[3, 17]] = ar.NA
    text = ar.format_times(seconds, layout).to_pylist()
    for value, got in zip(seconds, text, strict=True):
        if value == ar.NA:
            assert got is None
        else:
            assert got == datetime.fromtimestamp(int(value), UTC).strftime(pattern)


def test_digits_and_base36():
    assert ar.digits(np.array([5, 12345678]), 8, b"NW-").to_pylist() == [
        "NW-00000005",
        "NW-12345678",
    ]
    assert ar.base36(np.array([0, 35, 36]), 3).to_pylist() == ["000", "00z", "010"]


def _checksum(body: str) -> str:
    """Salesforce's case-safe suffix, the slow way."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for i in range(3):
        chunk = body[i * 5 : i * 5 + 5]
        suffix += alphabet[sum(1 << j for j, c in enumerate(chunk) if c.isupper())]
    return suffix


def test_salesforce_ids_have_a_valid_checksum_and_increase():
    ids = ar.salesforce_ids(np.arange(0, 62**4, 997)).to_pylist()
    assert all(len(i) == 18 and i[15:] == _checksum(i[:15]) for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid4_shape_and_nulls():
    rng = np.random.default_rng(1)
    valid = np.array([True, False, True])
    values = ar.uuid4_text(rng, 3, valid).to_pylist()
    assert values[1] is None
    for value in (values[0], values[2]):
        parts = value.split("-")
        assert [len(p) for p in parts] == [8, 4, 4, 4, 12]
        assert parts[2][0] == "4" and parts[3][0] in "89ab"


def test_by_style_builds_each_row_once_in_row_order():
    style = np.array([2, 0, 1, 2, 0])
    words = ["a", "b", "c", "d", "e"]
    built = ar.by_style(
        style, lambda k, rows: ar.pick([f"{k}:{w}" for w in words], rows.astype(np.int64))
    )
    assert built.to_pylist() == ["2:a", "0:b", "1:c", "2:d", "0:e"]


def test_affine_permutation_is_a_bijection():
    rng = np.random.default_rng(3)
    space = 36**3
    values = ar.permute(np.arange(space), space, ar.affine_permutation(rng, space))
    assert len(np.unique(values)) == space
