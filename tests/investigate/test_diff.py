"""investigate.diff: the cross-tab of two systems on the demo."""

from __future__ import annotations

import pytest

from prefsync_audit.investigate import InvestigationError, UnknownSystemError
from prefsync_audit.investigate.diff import STATES, diff_systems


def cells(key_diff):
    return sum(count for row in key_diff.crosstab.values() for count in row.values())


def test_crm_against_email(demo_source):
    diff = diff_systems(demo_source, "crm", "email")
    assert [k.key for k in diff.keys] == ["marketing/email/*"]
    assert diff.only_a == ["marketing/phone/*"] and diff.only_b == []
    (email,) = diff.keys
    table = email.crosstab
    assert list(table) == STATES and all(list(row) == STATES for row in table.values())
    agreement = email.agreement
    assert cells(email) == agreement.persons
    assert table["absent"]["absent"] == 0  # nobody is absent from both
    assert agreement.agreeing == table["granted"]["granted"] + table["denied"]["denied"]
    known = [(a, b) for a in ("granted", "denied") for b in ("granted", "denied")]
    assert agreement.both_known == sum(table[a][b] for a, b in known)
    assert email.disagreeing == table["granted"]["denied"] + table["denied"]["granted"] > 0
    assert agreement.agreement_rate == round(agreement.agreeing / agreement.both_known, 6)
    assert diff.overall == agreement
    # The planted Mailchimp gaps are among the disagreements (email granted, crm denied).
    assert table["denied"]["granted"] >= 3
    # Samples are masked, at most 5, lowest person ids first.
    assert 0 < len(email.sample) <= 5
    assert [p.person_id for p in email.sample] == sorted(p.person_id for p in email.sample)
    for person in email.sample:
        assert person.state_a != person.state_b
        assert "@" in person.identifiers and "***" in person.identifiers


def test_unknown_states_are_counted_apart(demo_source):
    # X22: the CRM's "Maybe" is unknown, never counted as agreeing or not.
    (email,) = diff_systems(demo_source, "crm", "email").keys
    assert sum(email.crosstab["unknown"].values()) >= 1


def test_filters_and_the_hashed_audience(demo_source):
    diff = diff_systems(demo_source, "cmp", "ads", purpose="advertising")
    assert {k.key.split("/")[0] for k in diff.keys} == {"advertising"}
    (advertising,) = [k for k in diff.keys if k.key == "advertising/*/*"]
    # The three planted ads gaps: denied at the CMP, still in the audience.
    assert advertising.crosstab["denied"]["granted"] == 3
    assert diff_systems(demo_source, "crm", "email", channel="sms").keys == []


def test_unknown_or_repeated_system(demo_source):
    with pytest.raises(UnknownSystemError, match=r"unknown system 'mailchimp'.*known: crm"):
        diff_systems(demo_source, "crm", "mailchimp")
    with pytest.raises(InvestigationError, match="two different systems"):
        diff_systems(demo_source, "crm", "crm")


def test_run_folder_gives_the_same_diff(demo_source, run_source):
    from_memory = diff_systems(demo_source, "crm", "email").to_dict()
    from_run = diff_systems(run_source, "crm", "email").to_dict()
    from_memory.pop("source")
    from_run.pop("source")
    assert from_run == from_memory
