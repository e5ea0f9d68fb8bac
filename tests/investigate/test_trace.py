"""investigate.trace on the demo's planted people (sample_exports/retail/PLANTED.md)."""

from __future__ import annotations

import hashlib
import json

import pytest

from prefsync_audit.investigate import (
    AmbiguousIdentifierError,
    IdentifierNotFoundError,
    trace_person,
)


def key_of(trace, key):
    (found,) = [k for k in trace.keys if k.key == key]
    return found


def verdicts(key_trace):
    return {v.system: v.verdict for v in key_trace.systems}


def test_suppression_gap_person(demo_source):
    # G1: the CMP opt-out never reached Mailchimp.
    trace = trace_person(demo_source, " Harriet.Oyelaran@inbox.example ")
    email = key_of(trace, "marketing/email/*")
    assert email.expected_state == "denied"
    assert email.rule == "latest"
    assert (email.deciding_system, email.deciding_at) == ("cmp", "2026-01-14T09:12:40Z")
    assert verdicts(email)["email"] == "suppression_gap"
    assert verdicts(email)["crm"] == "agrees"
    gap = next(v for v in email.systems if v.system == "email")
    assert gap.severity == "critical" and gap.finding_id and gap.lag_seconds > 72 * 3600
    # The opt-out began at the CMP; the CRM's later sync is the latest counting word.
    began = [e for e in email.timeline if e.deciding_change]
    assert [(e.system, e.state, e.raw_value) for e in began] == [("cmp", "denied", "OPT_OUT")]
    decider = [e for e in email.timeline if e.decides]
    assert [(e.system, e.state) for e in decider] == [("crm", "denied")]
    # Mailchimp's older grant is on the timeline and does not count.
    mailchimp = [e for e in email.timeline if e.system == "email"]
    assert mailchimp and not any(e.counts for e in mailchimp)
    times = [e.updated_at or "" for e in email.timeline]
    assert times == sorted(times)
    assert all(k.consistent for k in trace.keys)
    assert [f.kind for f in trace.findings] == ["suppression_gap"]


def test_identity_conflict_person(demo_source):
    # I21: one email on two CRM contacts with different customer numbers.
    by_email = trace_person(demo_source, "priya.natarajan@postbox.example")
    by_first = trace_person(demo_source, "NW-104411")
    by_second = trace_person(demo_source, "NW-118032")
    assert by_email.person_id == by_first.person_id == by_second.person_id
    assert by_email.identity_conflict.startswith("customer_id: N***")
    crm_rows = sorted(r.source_row for r in by_email.records if r.system == "crm")
    assert crm_rows == [57, 209]
    ids = [i for i in by_email.identifiers if i.kind == "customer_id"]
    assert len(ids) == 2 and all(i.linking == "on one record" for i in ids)
    (email,) = [i for i in by_email.identifiers if i.kind == "email"]
    assert email.linking.startswith("links ") and {h.source_row for h in email.records} >= {57, 209}
    assert by_first.matched == ["customer_id=N***11"]


def test_person_matched_only_through_the_hashed_audience(demo_source):
    # G10: the audience holds only the Google-normalized hash of the Gmail address.
    trace = trace_person(demo_source, "maya.thornbury@gmail.com")
    (ads,) = [r for r in trace.records if r.system == "ads"]
    assert ads.source_file.endswith("customer_match_audience.csv") and ads.source_row == 40
    assert ads.identifiers.startswith("email_sha256=")
    (hashed,) = [i for i in trace.identifiers if i.kind == "email_sha256"]
    held = [h for h in hashed.records if h.via is None]
    derived = [h for h in hashed.records if h.via == "email:google"]
    assert [h.system for h in held] == ["ads"]
    assert {h.system for h in derived} >= {"crm", "cmp"}
    advertising = key_of(trace, "advertising/*/*")
    assert verdicts(advertising)["ads"] == "suppression_gap"
    audience = [e for e in advertising.timeline if e.system == "ads"]
    assert audience[0].updated_at is None  # a membership snapshot has no time

    # Written without the dots the address matches nobody's email, only the hash.
    dotless = trace_person(demo_source, "mayathornbury@gmail.com")
    assert dotless.person_id == trace.person_id
    assert [m.split("=")[0] for m in dotless.matched] == ["email_sha256"]
    # The audience's own hash, in capitals, finds the same person.
    digest = hashlib.sha256(b"mayathornbury@gmail.com").hexdigest().upper()
    assert trace_person(demo_source, digest).person_id == trace.person_id


def test_phone_in_a_national_spelling_meets_the_phone_hash(demo_source):
    # G11: the audience has only the SHA-256 of +13125550112; the CRM writes 312.555.0112.
    trace = trace_person(demo_source, "(312) 555-0112")
    assert "phone=+1******0112" in trace.matched
    assert verdicts(key_of(trace, "advertising/*/*"))["ads"] == "suppression_gap"


def test_unverified_resubscribe_rule(demo_source):
    # U19: a Mailchimp subscription after the CMP opt-out does not count.
    trace = trace_person(demo_source, "clara.nakashima@inbox.example")
    email = key_of(trace, "marketing/email/*")
    assert email.rule == "unverified_resubscribe_not_counted"
    assert "cmp" in email.explanation and "authority" in email.explanation
    assert verdicts(email)["email"] == "unverified_resubscribe"


def test_unknown_identifier(demo_source):
    with pytest.raises(IdentifierNotFoundError) as error:
        trace_person(demo_source, "nobody@nowhere.example")
    message = str(error.value)
    assert "n***@nowhere.example" in message and "tried as" in message
    assert "nobody@" not in message
    with pytest.raises(IdentifierNotFoundError, match="no person 99999"):
        trace_person(demo_source, "person:99999")


@pytest.mark.parametrize(
    "identifier",
    [
        "NoEmail@Northwind.example",
        hashlib.sha256(b"noemail@northwind.example").hexdigest(),
    ],
    ids=["placeholder-email", "its-sha256"],
)
def test_ambiguous_identifier(demo_source, identifier):
    # The placeholder email is on 32 CRM contacts that are never linked.
    with pytest.raises(AmbiguousIdentifierError) as error:
        trace_person(demo_source, identifier)
    assert len(error.value.persons) == 32
    message = str(error.value)
    assert "matches 32 persons" in message and "placeholder list" in message
    assert "and 22 more" in message and "person:ID" in message
    assert "noemail@" not in message and "\n" not in message
    # Each of them can be traced by person id.
    trace = trace_person(demo_source, f"person:{error.value.persons[0]}")
    (email,) = [i for i in trace.identifiers if i.kind == "email"]
    assert email.linking == "not used for linking: placeholder list"


def test_identifiers_are_masked_unless_revealed(demo_source):
    masked = json.dumps(trace_person(demo_source, "harriet.oyelaran@inbox.example").to_dict())
    for raw in ("harriet.oyelaran@inbox.example", "NW-143036", "+1"):
        assert raw not in masked.replace("+1*", "")
    revealed = json.dumps(
        trace_person(demo_source, "harriet.oyelaran@inbox.example", reveal=True).to_dict()
    )
    assert "harriet.oyelaran@inbox.example" in revealed and "NW-143036" in revealed


@pytest.mark.parametrize(
    "identifier",
    ["harriet.oyelaran@inbox.example", "NW-104411", "mayathornbury@gmail.com", "(312) 555-0112"],
)
def test_run_folder_gives_the_same_trace(demo_source, run_source, identifier):
    from_memory = trace_person(demo_source, identifier).to_dict()
    from_run = trace_person(run_source, identifier).to_dict()
    for document in (from_memory, from_run):
        document.pop("source")
        document.pop("notes")
    assert from_run == from_memory
