"""investigate.identifiers: inputs normalized the pipeline's way; the identifier table."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from prefsync_audit.investigate.identifiers import (
    Candidate,
    LookupSettings,
    candidates,
    identifier_table,
    kind_of_column,
    person_id_of,
)
from prefsync_audit.resolve import hash_profiles, identifier_links

KINDS = ["customer_id", "email", "phone", "device_id", "email_sha256", "phone_sha256"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def settings() -> LookupSettings:
    return LookupSettings.guessed(KINDS, "US", {"email": {"google"}, "phone": {"plain"}})


@pytest.mark.parametrize(
    "text", ["(312) 555-0112", "312.555.0112", "312-555-0112", "+1 312 555 0112", "13125550112"]
)
def test_phone_in_any_spelling_becomes_e164(settings, text):
    found = candidates(text, settings)
    assert Candidate("phone", "+13125550112") in found
    assert Candidate("phone_sha256", sha("+13125550112")) in found


def test_email_is_trimmed_lowercased_and_hashed_under_the_profiles(settings):
    found = candidates("  Maya.Thornbury@Gmail.com ", settings)
    assert Candidate("email", "maya.thornbury@gmail.com") in found
    # Google's rule: dots and +tags dropped before hashing.
    assert Candidate("email_sha256", sha("mayathornbury@gmail.com")) in found
    # Tried against every identifier kind: an id may be an email.
    assert Candidate("customer_id", "Maya.Thornbury@Gmail.com") in found
    assert not any(c.kind == "phone" for c in found)


def test_hex_input_is_a_hash_of_every_hashed_kind(settings):
    digest = sha("someone@example.com").upper()
    found = candidates(digest, settings)
    assert Candidate("email_sha256", digest.lower()) in found
    assert Candidate("phone_sha256", digest.lower()) in found


def test_region_option_reads_national_numbers():
    settings = LookupSettings.guessed(["phone"], "US").with_region("GB")
    found = candidates("020 7946 0958", settings)
    assert Candidate("phone", "+442079460958") in found


def test_config_settings_follow_the_mappings(demo_result):
    settings = LookupSettings.from_config(demo_result.config)
    assert settings.profiles["email"] == {"google"}
    assert settings.exact_profiles


def test_guessed_settings_hash_under_every_profile():
    settings = LookupSettings.guessed(KINDS, "US")
    assert settings.profiles == {
        "email": {"plain", "google", "meta"},
        "phone": {"plain", "google", "meta"},
    }
    assert not settings.exact_profiles


def test_person_id_syntax():
    assert person_id_of("person:114") == 114
    assert person_id_of(" PERSON:7 ") == 7
    assert person_id_of("person:x") is None


def test_repeated_identifier_columns():
    assert kind_of_column("email#2") == "email"
    assert kind_of_column("email") == "email"
    assert kind_of_column("device#id") == "device#id"


def test_identifier_table_holds_the_links_resolve_uses(demo_result):
    config = demo_result.config
    records = demo_result.canonical.records
    kinds = list(config.identity.kinds)
    profiles = hash_profiles([config.mapping_of(s) for s in config.systems])
    links = identifier_links(records, kinds, profiles)
    table = identifier_table(records, kinds, profiles)
    as_set = lambda frame: set(  # noqa: E731
        zip(frame["record_key"].astype(int), frame["kind"], frame["value"], strict=True)
    )
    assert as_set(table) == as_set(links)
    # The audience row holds its hash; plain systems derive it from their email.
    held = table[(table["kind"] == "email_sha256") & (table["via"] == "")]
    derived = table[(table["kind"] == "email_sha256") & (table["via"] == "email:google")]
    assert len(held) and len(derived)
    assert not set(held["record_key"]) & set(derived["record_key"])


def test_identifier_table_of_no_identifiers():
    records = pd.DataFrame({"record_key": [0], "person_id": [1], "email": [None]})
    assert identifier_table(records, ["email"], {"email": {"plain"}}).empty
