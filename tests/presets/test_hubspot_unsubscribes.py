"""HubSpot unsubscribes-and-bounces CSV (TRUE flags, no dates)."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, records, unmapped


def test_portal_and_marketing_information_unsubscribes_untimed():
    mapped = map_fixture("hubspot-unsubscribes", "unsubscribes-and-bounces.csv")

    # Every row is a record, including bounce- and spam-only rows (not read).
    assert counts(mapped) == (5, 5, 0, 0)
    assert [r[2] for r in records(mapped, "email")] == [
        "ana.lima@example.com",
        "ben.okafor@example.com",
        "david.chen@example.net",
        "frank.osei@example.com",
        "carla.mendes@example.org",
    ]
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "TRUE", None, None, None),
        (1, "marketing", "email", "marketing_information", "denied", "TRUE", None, None, None),
        (2, "marketing", "email", "marketing_information", "denied", "TRUE", None, None, None),
        # Carla (row 5) only left custom types (Product Updates, Event
        # Invitations): those columns are not read.
    ]
    assert unmapped(mapped) == []
