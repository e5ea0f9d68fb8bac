"""SendGrid suppression presets: JSON arrays with epoch-second times."""

from __future__ import annotations

import yaml

from prefsync_audit.mapping import Mapping

from ._canonical import REPO, counts, map_fixture, observations, quarantine, records


def test_global_unsubscribes_deny_every_email_scope():
    mapped = map_fixture("sendgrid-global-unsubscribes", "unsubscribes.json")

    assert counts(mapped) == (3, 2, 1, 0)
    assert records(mapped, "email") == [
        (1, None, "ana.lima@example.com"),
        (2, None, "ben.okafor@example.com"),  # trailing space in the export
    ]
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "(present)", "2024-01-15T10:30:00Z", None, None),
        (2, "marketing", "email", "*", "denied", "(present)", "2024-02-01T09:15:00Z", None, None),
    ]
    assert quarantine(mapped) == [(3, "no usable identifier (invalid values)")]


def test_group_unsubscribes_scope_is_the_group_name():
    mapped = map_fixture("sendgrid-group-unsubscribes", "group_unsubscribes.json")

    assert counts(mapped) == (3, 3, 0, 0)
    t1, t2, t3 = "2024-01-15T10:30:00Z", "2024-02-03T22:40:00Z", "2024-02-21T09:00:00Z"
    assert observations(mapped) == [
        (1, "marketing", "email", "weekly_newsletter", "denied", "(present)", t1, None, None),
        (2, "marketing", "email", "product_updates", "denied", "(present)", t2, None, None),
        (3, "marketing", "email", "weekly_newsletter", "denied", "(present)", t3, None, None),
    ]


def test_bounces_are_known_but_never_a_choice():
    mapped = map_fixture("sendgrid-bounces", "bounces.json")

    assert counts(mapped) == (2, 2, 0, 0)
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "unknown", "(present)", "2024-02-08T13:46:40Z", None, None),
        (2, "marketing", "email", "*", "unknown", "(present)", "2024-02-09T17:33:20Z", None, None),
    ]


def test_spam_reports_are_known_but_never_a_choice():
    mapped = map_fixture("sendgrid-spam-reports", "spam_reports.json")

    assert counts(mapped) == (1, 1, 0, 0)
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "unknown", "(present)", "2024-02-10T21:20:00Z", None, None),
    ]


def test_opting_in_to_bounces_as_suppressions_is_the_documented_one_word_change():
    text = (REPO / "mappings" / "sendgrid-bounces.yaml").read_text()
    assert "`state: unknown` to `state: denied`" in text  # what the header tells users
    rule = "    state: unknown\n"
    assert text.count(rule) == 1
    opted_in = Mapping.model_validate(yaml.safe_load(text.replace(rule, "    state: denied\n")))

    mapped = map_fixture("sendgrid-bounces", "bounces.json", opted_in)

    assert [o[4] for o in observations(mapped)] == ["denied", "denied"]
