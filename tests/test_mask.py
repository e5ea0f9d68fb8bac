"""prefsync_audit.mask: identifiers masked for reports."""

from __future__ import annotations

import pandas as pd
import pytest

from prefsync_audit.mask import (
    mask_email,
    mask_hash,
    mask_id,
    mask_phone,
    mask_series,
    mask_value,
)

HASH = "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("john@example.com", "j***@example.com"),
        ("a@x.org", "a***@x.org"),
        ("@example.com", "***@example.com"),
        ("no-at-sign", "***"),
    ],
)
def test_mask_email(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+12025550100", "+1******0100"),
        ("+442079460958", "+4*******0958"),
        ("+123456", "+1*3456"),
        ("123456", "***"),
        ("", "***"),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


def test_mask_phone_keeps_length():
    assert len(mask_phone("+12025550100")) == len("+12025550100")


def test_mask_hash():
    assert mask_hash(HASH) == "b4c9a289…"


@pytest.mark.parametrize(
    ("value", "masked"),
    [("CUST-000123", "C***23"), ("123456", "1***56"), ("12345", "1***"), ("7", "7***")],
)
def test_mask_id(value, masked):
    assert mask_id(value) == masked


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("email", "john@example.com", "j***@example.com"),
        ("phone", "+12025550100", "+1******0100"),
        ("email_sha256", HASH, "b4c9a289…"),
        ("phone_sha256", HASH, "b4c9a289…"),
        ("customer_id", "CUST-000123", "C***23"),
        ("device_id", "abcdef", "a***ef"),
    ],
)
def test_mask_value_by_kind(kind, value, masked):
    assert mask_value(kind, value) == masked


def test_mask_never_returns_the_raw_value():
    for kind, value in [
        ("email", "jane.doe@example.com"),
        ("phone", "+12025550100"),
        ("email_sha256", HASH),
        ("customer_id", "CUST-000123"),
    ]:
        masked = mask_value(kind, value)
        assert masked != value
        assert "*" in masked or "…" in masked


def test_mask_series_keeps_missing_and_index():
    values = pd.Series(
        ["john@example.com", None, "john@example.com"], index=[5, 6, 7], dtype="object"
    )
    masked = mask_series("email", values)
    assert masked.index.tolist() == [5, 6, 7]
    assert masked[5] == masked[7] == "j***@example.com"
    assert pd.isna(masked[6])
