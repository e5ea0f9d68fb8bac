"""Attentive subscriptions: subscriptionEligibilities[] exploded, one row each."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, records, unmapped

FIXTURE = ("attentive-subscriptions", "subscriptions.jsonl")


def test_one_observation_per_marketing_eligibility():
    mapped = map_fixture(*FIXTURE)

    assert counts(mapped) == (8, 8, 0, 0)
    assert records(mapped, "phone", "email") == [
        (1, None, "+14155550132", "ana.lima@example.com"),
        (2, None, "+13125550170", "dan.wu@example.com"),
        (3, None, "+12125550148", None),
        (4, None, "+16465550191", None),
    ]
    # Untimed: the lookup says what Attentive does now, not when it was chosen.
    # Transactional eligibilities are not preferences.
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "false", None, None, None),
        (1, "marketing", "sms", "*", "granted", "true", None, None, None),
        (2, "marketing", "sms", "*", "denied", "false", None, None, None),
        (4, "marketing", "sms", "*", "granted", "true", None, None, None),
    ]
    assert unmapped(mapped) == [(4, "subscriptionEligibilities.subscription.channel", "PUSH")]
