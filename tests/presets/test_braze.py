"""Braze presets: user export (NDJSON) and subscription group state changes."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, quarantine, records, unmapped

USER_KINDS = ("customer_id", "email", "phone")


def test_users_email_and_push_states_with_their_own_times():
    # Braze names its NDJSON files .json; the preset reads them as JSON lines.
    mapped = map_fixture("braze-users", "114f0226319130e1a4770f2602b5639a.json")

    # A blank line is skipped and not counted; row 4 has only a braze_id and an alias.
    assert counts(mapped) == (4, 3, 1, 0)
    assert records(mapped, *USER_KINDS) == [
        (1, "5fbd2f8b1a2b3c4d5e6f7a01", "U-1001", "ana.lima@example.com", "+14155550132"),
        (2, "5fbd2f8b1a2b3c4d5e6f7a02", "U-1002", "ben.okafor@example.com", None),
        (3, "5fbd2f8b1a2b3c4d5e6f7a03", "U-1003", "carla.mendes@example.org", None),
    ]
    opted_in, email_out, push_out = (
        "2023-05-10T14:00:00Z",
        "2024-02-01T09:20:00Z",
        "2024-01-05T12:00:00Z",
    )
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "granted", "opted_in", opted_in, None, None),
        # "subscribed" is Braze's default: a grant with no time.
        (1, "marketing", "push", "*", "granted", "subscribed", None, None, None),
        # The unsubscribe time, not the older opt-in time.
        (2, "marketing", "email", "*", "denied", "unsubscribed", email_out, None, None),
        (2, "marketing", "push", "*", "denied", "unsubscribed", push_out, None, None),
        (3, "marketing", "email", "*", "granted", "subscribed", None, None, None),
    ]
    assert quarantine(mapped) == [(4, "no identifier")]


def test_subscription_group_changes_scope_is_the_group_id():
    mapped = map_fixture(
        "braze-subscription-group-changes", "subscription_group_state_changes.jsonl"
    )

    assert counts(mapped) == (4, 4, 0, 0)
    assert records(mapped, *USER_KINDS) == [
        (1, None, "U-1001", "ana.lima@example.com", None),
        (2, None, "U-1001", "ana.lima@example.com", None),
        (3, None, "U-1002", None, "+13125550175"),
        (4, None, "U-1003", "carla.mendes@example.org", "+12125550148"),
    ]
    newsletter = "8d5b2a9e-1f3c-4c8e-9f1a-2b3c4d5e6f70"
    # An upper-case group id is lowercased.
    sms_group = "3f2a9c10-7b4d-4e21-a0c5-9d8e7f6a5b43"
    t1, t2, t3 = "2023-11-14T22:13:20Z", "2024-01-15T10:30:00Z", "2024-02-21T09:00:00Z"
    center, keyword = "Subscription Center", "SMS Inbound Keyword"
    assert observations(mapped) == [
        (1, "marketing", "email", newsletter, "granted", "Subscribed", t1, center, None),
        (2, "marketing", "email", newsletter, "denied", "Unsubscribed", t2, center, None),
        (3, "marketing", "sms", sms_group, "denied", "Unsubscribed", t3, keyword, None),
    ]
    # A channel outside email/sms is reported, and gives no observation.
    assert unmapped(mapped) == [(4, "channel", "whatsapp")]
