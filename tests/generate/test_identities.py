"""Generated identifiers: unique, valid, and every spelling normalizes back."""

from __future__ import annotations

import numpy as np
import phonenumbers

from prefsync_audit.generate import identities as ids
from prefsync_audit.normalize import (
    apply_email_profile,
    make_phone_normalizer,
    normalize_email,
    sha256_hex,
)


def _people(n: int = 20_000) -> ids.Identities:
    return ids.make_identities(np.random.default_rng(42), n)


def test_emails_are_unique_even_under_the_gmail_rule():
    people = _people()
    emails = people.email.to_pylist()
    google = [apply_email_profile(e, "google") for e in emails]
    assert len(set(emails)) == len(emails)
    assert len(set(google)) == len(google)
    assert google == people.google_email.to_pylist()
    assert all(normalize_email(e) == e for e in emails[:2000])
    assert any("+" in e for e in emails) and any(e.endswith("@gmail.com") for e in emails)


def test_persons_are_numbered_in_address_order():
    emails = _people(5_000).email.to_pylist()
    assert emails == sorted(emails)


def test_phones_are_unique_valid_and_never_the_store_number():
    people = _people()
    assert len(np.unique(people.phone)) == len(people.phone)
    assert ids.STORE_PHONE not in set(people.phone.tolist())
    assert not set(people.spare_phone.tolist()) & set(people.phone.tolist())
    sample = np.concatenate([people.phone[:3000], [ids.STORE_PHONE]])
    for number in sample:
        parsed = phonenumbers.parse(f"+1{number}", None)
        assert phonenumbers.is_valid_number(parsed), number


def test_every_area_code_is_valid_for_libphonenumber():
    for area in ids.AREA_CODES:
        for exchange, line in ((200, 0), (999, 9999), (554, 1234), (556, 4321)):
            number = phonenumbers.parse(f"+1{area}{exchange}{line:04d}", None)
            assert phonenumbers.is_valid_number(number), area


def test_phone_spellings_normalize_to_e164():
    people = _people(600)
    style = np.arange(600) % 6
    spelled = ids.phone_spellings(people.phone, style).to_pylist()
    normalize = make_phone_normalizer("US")
    expected = ids.e164(people.phone).to_pylist()
    assert [normalize(s) for s in spelled] == expected
    assert len({s[:2] for s in spelled}) > 3  # really different spellings


def test_email_spellings_normalize_back():
    people = _people(500)
    spelled = ids.email_spellings(people.email, np.arange(500) % 5).to_pylist()
    assert [normalize_email(s) for s in spelled] == people.email.to_pylist()
    assert spelled[1] != people.email[1].as_py()


def test_customer_numbers_are_unique_across_conflict_duplicates():
    people = _people()
    both = np.concatenate([people.customer, people.conflict_customer])
    assert len(np.unique(both)) == len(both)


def test_hashes_are_sha256_of_the_normalized_value():
    people = _people(50)
    hashed = ids.sha256_hex(people.google_email).to_pylist()
    assert hashed == [sha256_hex(e) for e in people.google_email.to_pylist()]
