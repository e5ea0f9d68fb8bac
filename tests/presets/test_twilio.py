"""Twilio inbound opt-out keywords (CSV of inbound messages, RFC 2822 dates)."""

from __future__ import annotations

from ._canonical import counts, map_fixture, observations, quarantine, records


def test_keywords_become_sms_states_and_help_is_left_out():
    mapped = map_fixture("twilio-inbound-optouts", "inbound_messages.csv")

    # Rows 3 (no keyword: OptOutType blank) and 4 (HELP) are ignored on purpose.
    assert counts(mapped) == (6, 4, 0, 2)
    assert records(mapped, "phone") == [
        (1, None, "+14155550132"),
        (2, None, "+14155550132"),
        (5, None, "+13125550175"),
        # Known limit: a WhatsApp sender normalizes to its number (see the preset).
        (6, None, "+14155550199"),
    ]
    keyword = "SMS keyword"
    assert observations(mapped) == [
        (1, "marketing", "sms", "*", "denied", "STOP", "2024-01-15T10:30:00Z", keyword, None),
        # UNSTOP, read by Twilio as START: a re-subscription with its evidence.
        (2, "marketing", "sms", "*", "granted", "START", "2024-02-20T08:00:00Z", keyword, None),
        (5, "marketing", "sms", "*", "denied", "STOP", "2024-02-22T23:00:17Z", keyword, None),
        (6, "marketing", "sms", "*", "denied", "STOP", "2024-02-23T12:00:00Z", keyword, None),
    ]
    assert quarantine(mapped) == []
