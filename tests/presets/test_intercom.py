"""Intercom contacts (API JSON page, records under ``data``, UNIX seconds)."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, quarantine, records


def test_unsubscribed_from_emails_is_an_opted_out_flag():
    mapped = map_fixture("intercom-contacts", "contacts_page_1.json")

    assert counts(mapped) == (3, 2, 1, 0)
    assert records(mapped, "customer_id", "email", "phone") == [
        (1, "65a1f0c2e4b0a1b2c3d4e5f6", "U-1001", "ana.lima@example.com", "+14155550132"),
        (2, "65a1f0c2e4b0a1b2c3d4e5f7", None, "ben.okafor@example.com", None),
    ]
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "true", "2024-01-15T10:31:40Z", None, None),
        # Ben hard-bounced: deliverability is not read.
        (2, "marketing", "email", "*", "granted", "false", "2024-02-01T09:16:40Z", None, None),
    ]
    # An anonymous lead: no external_id, email or phone.
    assert quarantine(mapped) == [(3, "no identifier")]
