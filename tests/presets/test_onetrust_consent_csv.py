"""OneTrust consent records, flat CSV (long layout, UTF-8 with BOM)."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, records, unmapped


def test_purpose_names_and_statuses():
    mapped = map_fixture("onetrust-consent-csv", "consent_records.csv")

    assert counts(mapped) == (8, 8, 0, 0)
    assert [r[2] for r in records(mapped, "email")] == [
        "ana.lima@example.com",
        "ana.lima@example.com",
        "ben.okafor@example.com",
        "ben.okafor@example.com",
        "carla.mendes@example.org",
        "carla.mendes@example.org",
        "dan.wu@example.com",
        "dan.wu@example.com",
    ]
    ot = "OneTrust"
    assert observations(mapped) == [
        # The withdrawal date, not the consent date.
        (1, "marketing", "email", "*", "denied", "WITHDRAWN", "2024-01-15T10:30:00Z", ot, None),
        (2, "analytics", "web", "*", "granted", "ACTIVE", "2023-05-10T14:00:10Z", ot, None),
        (3, "advertising", "web", "*", "denied", "OPT_OUT", "2024-02-01T09:00:00Z", ot, None),
        # Row 4: Strictly Necessary Cookies / ALWAYS_ACTIVE, not a choice.
        (5, "marketing", "sms", "*", "unknown", "PENDING", "2024-03-04T16:00:00Z", ot, None),
        # Row 6: a purpose name the preset does not know (reported below).
        (7, "functional", "web", "*", "denied", "EXPIRED", "2023-01-01T00:00:00Z", ot, None),
        (8, "marketing", "email", "*", "granted", "ACTIVE", "2024-02-10T10:00:00Z", ot, None),
    ]
    # Purpose and channel both read Purpose Name: an unknown name is reported by each.
    assert unmapped(mapped) == [
        (6, "Purpose Name", "Loyalty Programme"),
        (6, "Purpose Name", "Loyalty Programme"),
    ]
