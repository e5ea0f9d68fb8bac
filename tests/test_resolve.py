"""prefsync_audit.resolve: linking records into persons."""

from __future__ import annotations

import hashlib
import random

import pandas as pd
import pytest

from prefsync_audit.config import IdentityConfig
from prefsync_audit.mapping import Mapping
from prefsync_audit.resolve import hash_profiles, identifier_links, resolve_identities

KINDS = ["customer_id", "email", "phone", "email_sha256", "phone_sha256"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def records(rows):
    frame = pd.DataFrame(
        rows, columns=[k for k in KINDS if any(k in r for r in rows)], dtype="object"
    )
    frame = frame.where(frame.notna(), None)
    frame.insert(0, "record_key", range(len(frame)))
    return frame


def resolve(rows, profiles=None, **identity):
    return resolve_identities(records(rows), IdentityConfig(**identity), profiles or {})


def groups(resolution):
    """Record keys grouped by person, as a set of frozensets (ids do not matter)."""
    by_person = resolution.person_of_record.groupby(resolution.person_of_record.to_numpy())
    return {frozenset(keys.index) for _, keys in by_person}


def ignored(resolution):
    return [
        tuple(r)
        for r in resolution.ignored_values[["kind", "value", "records", "reason"]].itertuples(
            index=False
        )
    ]


def test_transitive_linking_across_kinds():
    resolution = resolve(
        [
            {"email": "a@x.com"},  # A
            {"email": "a@x.com", "phone": "+12025550100"},  # B shares email with A
            {"phone": "+12025550100", "customer_id": "C1"},  # C shares phone with B
            {"customer_id": "C1"},  # D shares id with C
            {"email": "z@x.com"},  # a stranger
        ]
    )
    assert groups(resolution) == {frozenset({0, 1, 2, 3}), frozenset({4})}
    assert resolution.person_of_record.index.tolist() == [0, 1, 2, 3, 4]
    assert resolution.conflicts.empty


def test_person_ids_and_anchors_follow_the_strongest_identifier():
    resolution = resolve(
        [{"email": "b@x.com"}, {"email": "a@x.com", "customer_id": "C9"}, {"phone": "+12025550100"}]
    )
    # Persons are numbered by anchor: customer ids first, then emails, then phones.
    assert resolution.person_of_record.tolist() == [2, 1, 3]
    assert resolution.anchors.values.tolist() == [
        [1, "customer_id", "C9"],
        [2, "email", "b@x.com"],
        [3, "phone", "+12025550100"],
    ]


@pytest.mark.parametrize(
    ("profile", "linked"), [("google", True), ("plain", False), ("meta", False)]
)
def test_hashed_email_joins_plain_email_under_its_profile(profile, linked):
    audience_hash = sha("johndoe@gmail.com")  # how Customer Match hashes it
    resolution = resolve(
        [{"email": "john.doe+shop@gmail.com"}, {"email_sha256": audience_hash}],
        {"email": {profile}},
    )
    assert (len(groups(resolution)) == 1) is linked


def test_hashed_phone_joins_under_meta_profile():
    resolution = resolve(
        [{"phone": "+12025550100"}, {"phone_sha256": sha("12025550100")}], {"phone": {"meta"}}
    )
    assert groups(resolution) == {frozenset({0, 1})}


def test_non_gmail_address_joins_under_every_profile():
    resolution = resolve(
        [{"email": "j.doe@corp.com"}, {"email_sha256": sha("j.doe@corp.com")}],
        {"email": {"google"}},
    )
    assert groups(resolution) == {frozenset({0, 1})}


def test_hash_profiles_of_mappings():
    def mapping(identifiers):
        return Mapping.model_validate(
            {
                "identifiers": identifiers,
                "preferences": [{"purpose": "advertising", "state": "granted"}],
            }
        )

    profiles = hash_profiles(
        [
            mapping(
                {
                    "email_sha256": {"column": "E", "profile": "google"},
                    "phone_sha256": {"column": "P", "profile": "meta"},
                }
            ),
            mapping({"email_sha256": {"column": "E"}}),
            mapping({"email": {"column": "E"}}),
        ]
    )
    assert profiles == {"email": {"google", "plain"}, "phone": {"meta"}}


def test_identifier_links_derive_hashes():
    links = identifier_links(
        records([{"email": "a.b@gmail.com"}]),
        ["email", "email_sha256"],
        {"email": {"google", "plain"}},
    )
    assert sorted(map(tuple, links.values.tolist())) == sorted(
        [
            (0, "email", "a.b@gmail.com"),
            (0, "email_sha256", sha("a.b@gmail.com")),
            (0, "email_sha256", sha("ab@gmail.com")),
        ]
    )


def test_default_placeholders_are_ignored_and_reported():
    resolution = resolve(
        [
            {"email": "test@test.com", "customer_id": "C1"},
            {"email": "test@test.com", "customer_id": "C2"},
            {"email": "noemail@shop.com", "customer_id": "C3"},
            {"email": "noemail@shop.com", "customer_id": "C4"},
            {"phone": "+10000000000", "customer_id": "C5"},
            {"phone": "+10000000000", "customer_id": "C6"},
            {"customer_id": "0", "email": "real@x.com"},
            {"customer_id": "0", "email": "other@x.com"},
        ]
    )
    assert len(groups(resolution)) == 8
    assert ignored(resolution) == [
        ("customer_id", "0", 2, "placeholder list"),
        ("email", "noemail@shop.com", 2, "placeholder list"),
        ("email", "test@test.com", 2, "placeholder list"),
        ("phone", "+10000000000", 2, "placeholder list"),
    ]


def test_placeholder_is_not_an_anchor():
    # Both leads carry the CRM's placeholder id 0: their findings must not share an id.
    resolution = resolve(
        [{"customer_id": "0", "email": "b@x.com"}, {"customer_id": "0", "email": "a@x.com"}]
    )
    assert resolution.anchors.values.tolist() == [[1, "email", "a@x.com"], [2, "email", "b@x.com"]]
    assert resolution.person_of_record.tolist() == [2, 1]
    # With nothing else to go by, a placeholder still anchors its person.
    alone = resolve([{"customer_id": "0"}])
    assert alone.anchors.values.tolist() == [[1, "customer_id", "0"]]


def test_configured_placeholders_exact_and_regex():
    rows = [
        {"email": "front.desk@hotel.com", "customer_id": "C1"},
        {"email": "front.desk@hotel.com", "customer_id": "C2"},
        {"email": "guest123@walkin.local", "customer_id": "C3"},
        {"email": "guest456@walkin.local", "customer_id": "C3"},
        {"email": "test@test.com", "customer_id": "C4"},
        {"email": "test@test.com", "customer_id": "C5"},
    ]
    resolution = resolve(
        rows,
        ignore={"email": ["front.desk@hotel.com", "re:@walkin\\.local$"]},
        use_default_ignore=False,
    )
    # C3's two records still share the customer id; the defaults are off, so
    # test@test.com links C4 and C5.
    assert groups(resolution) == {
        frozenset({0}),
        frozenset({1}),
        frozenset({2, 3}),
        frozenset({4, 5}),
    }
    assert [row[:2] for row in ignored(resolution)] == [
        ("email", "front.desk@hotel.com"),
        ("email", "guest123@walkin.local"),
        ("email", "guest456@walkin.local"),
    ]


def test_placeholder_does_not_link_through_its_derived_hash():
    rows = [
        {"email": "test@test.com", "customer_id": "C1"},
        {"email": "test@test.com", "customer_id": "C2"},
    ]
    resolution = resolve(rows, {"email": {"plain"}})
    assert groups(resolution) == {frozenset({0}), frozenset({1})}
    assert resolution.conflicts.empty


def test_listed_placeholder_applies_to_a_hash_only_audience():
    rows = [{"email_sha256": sha("desk@hotel.com")}, {"email_sha256": sha("desk@hotel.com")}]
    resolution = resolve(rows, ignore={"email": ["desk@hotel.com"]})
    assert groups(resolution) == {frozenset({0}), frozenset({1})}
    assert ignored(resolution) == [("email_sha256", sha("desk@hotel.com"), 2, "placeholder list")]


def test_max_records_per_value_guard():
    rows = [{"email": "family@x.com", "customer_id": f"C{i}"} for i in range(3)]
    rows.append({"email": "pair@x.com", "customer_id": "C7"})
    rows.append({"email": "pair@x.com", "customer_id": "C8"})
    resolution = resolve(rows, max_records_per_value=2)
    assert groups(resolution) == {frozenset({0}), frozenset({1}), frozenset({2}), frozenset({3, 4})}
    assert ignored(resolution) == [("email", "family@x.com", 3, "links more than 2 records")]
    # A pair under the limit still links, and is a conflict on the strong key.
    assert resolution.conflicts.values.tolist() == [[4, "customer_id", ["C7", "C8"]]]


def test_conflicts_on_strong_key():
    resolution = resolve(
        [
            {"email": "a@x.com", "customer_id": "C2"},
            {"email": "a@x.com", "customer_id": "C1"},
            {"email": "a@x.com", "customer_id": "C1"},
            {"email": "b@x.com", "customer_id": "C3"},
        ]
    )
    assert resolution.conflicts.values.tolist() == [[1, "customer_id", ["C1", "C2"]]]


def test_each_conflicting_value_is_listed_once_and_repeats_alone_are_no_conflict():
    rows = [{"email": "a@x.com", "customer_id": c} for c in ("C2", "C1", "C1", "C3", "C2")]
    rows += [{"email": "b@x.com", "customer_id": "C4"}] * 2 + [{"email": "c@x.com"}]
    rows += [{"email": "d@x.com", "customer_id": c} for c in ("C6", "C5")]
    assert resolve(rows).conflicts.values.tolist() == [
        [1, "customer_id", ["C1", "C2", "C3"]],
        [3, "customer_id", ["C5", "C6"]],
    ]


def test_conflicts_on_configured_strong_keys():
    rows = [
        {"email": "a@x.com", "phone": "+12025550100"},
        {"email": "a@x.com", "phone": "+12025550111"},
    ]
    assert resolve(rows).conflicts.empty
    conflicts = resolve(rows, strong_keys=["phone"]).conflicts
    assert conflicts.values.tolist() == [[1, "phone", ["+12025550100", "+12025550111"]]]


def test_record_holding_only_a_placeholder_stays_alone():
    resolution = resolve(
        [{"email": "test@test.com"}, {"email": "a@x.com"}, {"email": "test@test.com"}]
    )
    assert groups(resolution) == {frozenset({0}), frozenset({1}), frozenset({2})}


def test_person_ids_do_not_depend_on_record_order():
    rows = [
        {"email": "a@x.com", "customer_id": "C1"},
        {"email": "a@x.com", "phone": "+12025550100"},
        {"phone": "+12025550100"},
        {"email": "b@x.com"},
        {"email": "c@x.com", "phone": "+12025550111"},
        {"phone": "+12025550111", "email_sha256": sha("c2@x.com")},
        {"customer_id": "C0"},
        {"email": "d@x.com", "customer_id": "C2"},
    ]

    def person_by_identifier(ordered):
        resolution = resolve(ordered, {"email": {"plain"}})
        frame = records(ordered).assign(person=resolution.person_of_record.to_numpy())
        result = {}
        for kind in ("customer_id", "email", "phone", "email_sha256"):
            for value, person in frame[[kind, "person"]].dropna().itertuples(index=False):
                result[(kind, value)] = person
        return result, resolution.anchors.values.tolist()

    expected = person_by_identifier(rows)
    generator = random.Random(7)
    for _ in range(5):
        shuffled = rows[:]
        generator.shuffle(shuffled)
        assert person_by_identifier(shuffled) == expected


def test_empty_records():
    frame = pd.DataFrame(
        {"record_key": pd.Series(dtype="int64"), "email": pd.Series(dtype="object")}
    )
    resolution = resolve_identities(frame, IdentityConfig(), {})
    assert resolution.person_of_record.empty
    assert resolution.conflicts.empty
