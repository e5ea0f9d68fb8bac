"""--drift parsing and validation."""

from __future__ import annotations

import pytest

from prefsync_audit.errors import AuditError
from prefsync_audit.generate.drift import DriftRates, parse_drift


def test_defaults_and_overrides():
    assert parse_drift(None) == DriftRates()
    rates = parse_drift("suppression_gap=0.02, pending_sync=0.01")
    assert (rates.suppression_gap, rates.pending_sync) == (0.02, 0.01)
    assert rates.over_suppression == DriftRates().over_suppression


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope=0.1", "NAME=RATE"),
        ("suppression_gap", "NAME=RATE"),
        ("suppression_gap=lots", "not a number"),
        ("suppression_gap=1.5", "between 0 and 1"),
        ("suppression_gap=0.6,newsletter_only=0.6", "more than 1"),
    ],
)
def test_bad_rates_are_user_errors(text, message):
    with pytest.raises(AuditError, match=message):
        parse_drift(text)
