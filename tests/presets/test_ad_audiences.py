"""Hashed ad audiences: Google Customer Match (repeatable Email/Phone, Gmail rule)
and Meta custom audiences (no Gmail rule, phones without "+")."""

from __future__ import annotations

import hashlib

import pandas as pd

from prefsync_audit.normalize import apply_email_profile
from prefsync_audit.resolve import identifier_links

from ._canonical import counts, map_fixture, observations, quarantine


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rows(mapped, *columns):
    frame = mapped.records[["source_row", *columns]].astype(object)
    return [tuple(None if v != v or v is None else v for v in r) for r in frame.values.tolist()]


def test_google_customer_match():
    mapped = map_fixture("google-customer-match", "customer_match_upload.csv")

    assert counts(mapped) == (6, 5, 1, 0)
    assert quarantine(mapped) == [(5, "no usable identifier (invalid values)")]
    assert rows(mapped, "email_sha256", "email_sha256#2", "phone_sha256") == [
        (1, h("ana.lima@example.com"), None, h("+14155550132")),
        # Plain Gmail address: dots and "+shop" removed before hashing, as Google does.
        (2, h("gitarao@gmail.com"), h("g.rao@work.example"), None),
        (3, h("ben.okafor@example.com"), h("b.okafor@work.example"), None),
        # Upper-case hex is the same hash.
        (4, h("zoe.quinn@example.com"), None, h("+442079460958")),
        (6, h("ivan.petrov@example.com"), None, None),
    ]
    # Membership: every listed person is targeted; untimed.
    assert observations(mapped) == [
        (row, "advertising", "*", "*", "granted", "(present)", None, None, None)
        for row in (1, 2, 3, 4, 6)
    ]


def test_meta_custom_audience():
    mapped = map_fixture("meta-custom-audience", "custom_audience.csv")

    assert counts(mapped) == (6, 6, 0, 0)
    assert rows(mapped, "email_sha256", "phone_sha256", "customer_id", "device_id") == [
        # No Gmail rule for Meta.
        (1, h("gita.rao@gmail.com"), None, None, None),
        (2, h("ben.okafor@example.com"), None, "U-1002", None),
        # Phones hashed without "+".
        (3, None, h("14155550132"), None, None),
        (4, None, None, None, "6D92078A-8246-4BA4-AE5B-76104861E7DC"),
        (5, h("nobody@example.net"), None, None, None),
        # A plain value in a hashed column is hashed Meta's way.
        (6, h("ivan.petrov@example.com"), None, None, None),
    ]
    assert len(observations(mapped)) == 6


def test_one_gmail_address_meets_both_audiences():
    plain = "gita.rao@gmail.com"
    google = map_fixture("google-customer-match", "customer_match_upload.csv")
    meta = map_fixture("meta-custom-audience", "custom_audience.csv")
    assert h(apply_email_profile(plain, "google")) in set(google.records["email_sha256"])
    assert h(apply_email_profile(plain, "meta")) in set(meta.records["email_sha256"])
    # The plain address of another system is hashed under both profiles.
    crm = pd.DataFrame({"record_key": [0], "email": [plain]})
    links = identifier_links(crm, ["email"], {"email": {"google", "meta"}})
    assert set(links["value"]) == {plain, h("gitarao@gmail.com"), h("gita.rao@gmail.com")}
