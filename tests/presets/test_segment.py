"""Segment consent object (event JSON lines, nested dot paths)."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, records


def test_category_preferences_become_purposes_on_every_channel():
    mapped = map_fixture("segment-consent", "events.jsonl")

    assert counts(mapped) == (4, 4, 0, 0)
    anonymous_1 = "7f1c2e3a-5b6d-4c8e-9f0a-1b2c3d4e5f60"
    anonymous_2 = "9b2d4f6a-8c0e-4a2c-9e1f-3a5b7c9d1e20"
    assert records(mapped, "customer_id", "device_id", "email") == [
        (1, "ajs-next-1705314600000-a1b2c3", "U-1001", anonymous_1, None),
        (2, "ajs-next-1705314660000-d4e5f6", "U-1001", anonymous_1, "ana.lima@example.com"),
        # OneTrust category ids (C0002…) are not among the preset's categories.
        (3, "ajs-next-1706779000000-0a9b8c", None, anonymous_2, None),
        # No consent object at all.
        (4, "ajs-next-1709570760000-77aa11", None, anonymous_2, None),
    ]
    t1, t2 = "2024-01-15T10:30:00Z", "2024-01-15T10:31:00Z"
    assert observations(mapped) == [
        (1, "advertising", "*", "*", "denied", "false", t1, None, None),
        (1, "analytics", "*", "*", "granted", "true", t1, None, None),
        (1, "functional", "*", "*", "granted", "true", t1, None, None),
        (1, "sale_sharing", "*", "*", "denied", "false", t1, None, None),
        (2, "advertising", "*", "*", "denied", "false", t2, None, None),
        (2, "analytics", "*", "*", "granted", "true", t2, None, None),
        (2, "functional", "*", "*", "granted", "true", t2, None, None),
        (2, "sale_sharing", "*", "*", "denied", "false", t2, None, None),
    ]
