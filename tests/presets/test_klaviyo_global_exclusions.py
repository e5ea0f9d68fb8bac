"""Klaviyo global exclusions (legacy v1 JSON page, records under ``data``)."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, quarantine, records, unmapped


def test_reasons_unsubscribe_and_manual_deny_deliverability_is_unknown():
    mapped = map_fixture("klaviyo-global-exclusions", "exclusions_page_0.json")

    assert counts(mapped) == (5, 4, 1, 0)
    assert [r[2] for r in records(mapped, "email")] == [
        "ana.lima@example.com",
        "ben.okafor@example.com",
        "david.chen@example.net",
        "frank.osei@example.com",
    ]
    t1, t2, t3, t4 = (
        "2024-01-15T10:30:00Z",
        "2024-02-01T09:15:00Z",
        "2024-02-08T13:46:40Z",
        "2024-02-10T21:20:00Z",
    )
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "unsubscribed", t1, None, None),
        (2, "marketing", "email", "*", "denied", "manually_excluded", t2, None, None),
        (3, "marketing", "email", "*", "unknown", "bounced", t3, None, None),
        (4, "marketing", "email", "*", "unknown", "reported_spam", t4, None, None),
    ]
    # gina@localhost (reason invalid_email) has no valid address at all.
    assert quarantine(mapped) == [(5, "no usable identifier (invalid values)")]
    assert unmapped(mapped) == []
