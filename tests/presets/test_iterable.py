"""Iterable users (JSON lines): id arrays read through params of placeholder ids."""

from __future__ import annotations

from prefsync_audit.config import load_mapping

from ._canonical import counts, map_fixture, observations, records, unmapped

FIXTURE = ("iterable-users", "data.json")


def test_placeholder_ids_give_no_observation_and_every_real_id_is_reported():
    mapped = map_fixture(*FIXTURE)

    assert counts(mapped) == (3, 3, 0, 0)
    assert records(mapped, "customer_id", "email", "phone") == [
        (1, None, "U-1001", "ana.lima@example.com", "+14155550132"),
        (2, None, "U-1002", "ben.okafor@example.com", None),
        (3, None, None, "carla.mendes@example.org", None),
    ]
    assert observations(mapped) == []
    assert unmapped(mapped) == [
        (1, "emailListIds", "30121"),
        (1, "emailListIds", "30144"),
        (1, "subscribedMessageTypeIds", "48810"),
        (1, "unsubscribedChannelIds", "21304"),
        (2, "unsubscribedMessageTypeIds", "48810"),
    ]


def test_ids_given_as_params_of_an_extending_mapping(tmp_path):
    (tmp_path / "iterable.yaml").write_text(
        "extends: preset:iterable-users\n"
        "params:\n"
        "  channels:\n"
        '    "21304": {channel: email}\n'
        "  message_types:\n"
        '    "48810": {channel: email, scope: newsletter}\n'
        "  lists:\n"
        '    "30121": {scope: newsletter}\n'
        '    "30144": {scope: offers}\n'
    )
    mapping = load_mapping("iterable.yaml", tmp_path)

    mapped = map_fixture(*FIXTURE, mapping)

    t1, t2 = "2024-01-15T10:31:40Z", "2024-02-01T09:16:40Z"
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "21304 listed", t1, None, None),
        (1, "marketing", "email", "newsletter", "granted", "30121 listed", t1, None, None),
        (1, "marketing", "email", "newsletter", "granted", "48810 listed", t1, None, None),
        (1, "marketing", "email", "offers", "granted", "30144 listed", t1, None, None),
        (2, "marketing", "email", "newsletter", "denied", "48810 listed", t2, None, None),
    ]
    assert unmapped(mapped) == []
