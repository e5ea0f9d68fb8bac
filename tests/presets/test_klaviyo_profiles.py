"""Klaviyo profiles: nested consent objects and the exploded suppression[] array."""

from __future__ import annotations

from prefsync_audit.config import load_mapping

from ._canonical import counts, map_fixture, observations, quarantine, records, unmapped

FIXTURE = ("klaviyo-profiles", "profiles_page_1.json")
ID = "01HM2ZJ6Q3W8E5R7T9Y1U3I5"


def test_consent_once_per_profile_and_one_observation_per_suppression():
    mapped = map_fixture(*FIXTURE)

    # Rows: one per suppression (Carla has two), one for a profile without any.
    assert counts(mapped) == (7, 6, 1, 0)
    assert quarantine(mapped) == [(6, "no usable identifier (invalid values)")]
    assert records(mapped, "customer_id", "email", "phone") == [
        (1, ID + "O7", "U-1001", "ana.lima@example.com", "+14155550132"),
        (2, ID + "O8", "U-1002", "ben.okafor@example.com", None),
        (3, ID + "O9", None, "carla.mendes@example.org", None),
        (4, ID + "PA", None, "dan.wu@example.com", "+13125550170"),
        # Fetched without its subscriptions: known, no observation.
        (5, ID + "PB", None, None, "+12125550148"),
    ]
    email, sms = ("marketing", "email", "*"), ("marketing", "sms", "*")
    t_ana, t_ben = "2024-01-15T10:31:05Z", "2023-03-01T08:00:00Z"
    assert observations(mapped) == [
        (1, *email, "denied", "UNSUBSCRIBE", t_ana, None, None),
        (1, *email, "denied", "UNSUBSCRIBED", t_ana, "PREFERENCE_PAGE", None),
        (1, *sms, "granted", "SUBSCRIBED", "2023-06-01T12:00:00Z", "TEXT", None),
        (2, *email, "granted", "SUBSCRIBED", t_ben, "FORM", None),
        (2, *sms, "unknown", "NEVER_SUBSCRIBED", None, None, None),
        # Bounces and complaints: known to Klaviyo, not a choice.
        (3, *email, "granted", "SUBSCRIBED", "2024-02-12T08:30:00Z", "API", None),
        (3, *email, "unknown", "HARD_BOUNCE", "2024-02-13T02:00:00Z", None, None),
        (3, *email, "unknown", "SPAM_COMPLAINT", "2024-02-14T09:00:00Z", None, None),
        (4, *email, "unknown", "NEVER_SUBSCRIBED", None, None, None),
        # An offset is kept: 15:00 at -05:00 is 20:00 UTC.
        (4, *sms, "granted", "SUBSCRIBED", "2023-09-01T20:00:00Z", "TEXT", None),
    ]
    assert unmapped(mapped) == []


def test_bounces_as_suppressions_through_params(tmp_path):
    (tmp_path / "klaviyo.yaml").write_text(
        "extends: preset:klaviyo-profiles\n"
        "params:\n"
        "  suppression_reasons: {HARD_BOUNCE: denied, SPAM_COMPLAINT: denied}\n"
    )
    mapped = map_fixture(*FIXTURE, load_mapping("klaviyo.yaml", tmp_path))
    carla = [(o[4], o[5]) for o in observations(mapped) if o[0] == 3]
    assert carla == [
        ("denied", "HARD_BOUNCE"),
        ("denied", "SPAM_COMPLAINT"),
        ("granted", "SUBSCRIBED"),
    ]
