"""Masking identifiers for reports: enough to recognise, not enough to leak."""

from __future__ import annotations

import pandas as pd


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(value: str) -> str:
    if len(value) <= 6:
        return "***"
    return value[:2] + "*" * (len(value) - 6) + value[-4:]


def mask_hash(value: str) -> str:
    return value[:8] + "…"


def mask_id(value: str) -> str:
    return value[:1] + "***" + (value[-2:] if len(value) > 5 else "")


def mask_value(kind: str, value: str) -> str:
    """Mask one identifier according to its kind."""
    if kind == "email":
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    if kind.endswith("_sha256"):
        return mask_hash(value)
    return mask_id(value)


def mask_series(kind: str, values: pd.Series) -> pd.Series:
    """Mask a column with vectorized string operations (same result as ``mask_value``)."""
    text = values.astype("string")
    if kind == "email":
        domain = text.str.partition("@")[2]
        masked = (text.str.slice(0, 1) + "***@" + domain).where(domain != "", "***")
    elif kind == "phone":
        stars = (text.str.len() - 6).clip(lower=0)
        middle = pd.Series(["*" * n if pd.notna(n) else "" for n in stars], index=text.index)
        masked = (text.str.slice(0, 2) + middle + text.str.slice(-4)).where(
            text.str.len() > 6, "***"
        )
    elif kind.endswith("_sha256"):
        masked = text.str.slice(0, 8) + "…"
    else:
        tail = text.str.slice(-2).where(text.str.len() > 5, "")
        masked = text.str.slice(0, 1) + "***" + tail
    return masked.where(values.notna()).astype("object")
