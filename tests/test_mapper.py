"""prefsync_audit.mapper: applying a mapping to a loaded export."""

from __future__ import annotations

import pandas as pd
import pytest

from prefsync_audit.config import IdentityConfig
from prefsync_audit.errors import InputError
from prefsync_audit.load import load_file
from prefsync_audit.mapper import OBSERVATION_COLUMNS, map_file

IDENTITY = IdentityConfig()


def run(table, mapping, strict=True):
    mapped = map_file(table, mapping, IDENTITY, strict)
    acc = mapped.accounting
    # Every row is accounted for, in every test.
    assert acc["rows_read"] == acc["rows_mapped"] + acc["rows_quarantined"] + acc["rows_ignored"]
    assert len(mapped.records) == acc["rows_mapped"]
    assert list(mapped.observations.columns) == OBSERVATION_COLUMNS
    return mapped


def plain(value):
    return None if value is not pd.NaT and pd.isna(value) else value


def obs(mapped, *columns):
    """Observations as sorted tuples (missing text as None)."""
    columns = columns or ("record_key", "purpose", "channel", "scope", "state", "raw_value")
    frame = mapped.observations[list(columns)]
    return sorted((tuple(plain(v) for v in row) for row in frame.itertuples(index=False)),
                  key=repr)


def quarantine(mapped):
    return [tuple(row) for row in mapped.quarantine[["source_row", "reason"]].itertuples(
        index=False)]


def unmapped(mapped):
    return [tuple(row) for row in mapped.unmapped.itertuples(index=False)]


def test_wide_layout_with_invert(raw_table, make_mapping):
    table = raw_table([
        {"Email": " A@X.com", "HasOptedOutOfEmail": "TRUE", "SmsOptIn": "y"},
        {"Email": "b@x.com", "HasOptedOutOfEmail": "false", "SmsOptIn": " N "},
        {"Email": "c@x.com", "HasOptedOutOfEmail": "0", "SmsOptIn": None},
    ])
    mapping = make_mapping(preferences=[
        {"purpose": "marketing", "channel": "email",
         "state": {"column": "HasOptedOutOfEmail", "vocabulary": "boolean", "invert": True}},
        {"purpose": "marketing", "channel": "sms",
         "state": {"column": "SmsOptIn", "vocabulary": "boolean"}},
    ])
    mapped = run(table, mapping)
    assert mapped.records[["source_row", "email"]].values.tolist() == [
        [1, "a@x.com"], [2, "b@x.com"], [3, "c@x.com"]]
    assert sorted(obs(mapped)) == [
        (0, "marketing", "email", "*", "denied", "TRUE"),
        (0, "marketing", "sms", "*", "granted", "y"),
        (1, "marketing", "email", "*", "granted", "false"),
        (1, "marketing", "sms", "*", "denied", " N "),
        (2, "marketing", "email", "*", "granted", "0"),
    ]
    assert set(mapped.observations["source_column"]) == {"HasOptedOutOfEmail", "SmsOptIn"}
    assert mapped.accounting == {"rows_read": 3, "rows_mapped": 3, "rows_quarantined": 0,
                                 "rows_ignored": 0}


def test_long_layout_purpose_from_column(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Purpose": "Marketing  Email", "Status": "SUBSCRIBED"},
        {"Email": "a@x.com", "Purpose": "transactional", "Status": "unsubscribed"},
        {"Email": "b@x.com", "Purpose": "Surveys", "Status": "subscribed"},
        {"Email": "b@x.com", "Purpose": "marketing email", "Status": "pending"},
        {"Email": "c@x.com", "Purpose": "marketing email", "Status": "unsubscribed"},
    ])
    mapping = make_mapping(preferences=[{
        "purpose": {"column": "Purpose", "values": {"marketing email": "marketing",
                                                    "Transactional": "ignore"}},
        "channel": "email",
        "state": {"column": "Status", "values": {"subscribed": "granted",
                                                 "unsubscribed": "denied",
                                                 "pending": "ignore"}},
    }])
    mapped = run(table, mapping)
    assert obs(mapped) == [
        (0, "marketing", "email", "*", "granted", "SUBSCRIBED"),
        (4, "marketing", "email", "*", "denied", "unsubscribed"),
    ]
    # An unknown purpose is unmapped; an ignored one and an ignored state are not.
    assert unmapped(mapped) == [(2, "Purpose", "Surveys")]
    assert mapped.accounting["rows_mapped"] == 5


def test_long_layout_without_values_uses_the_raw_value(raw_table, make_mapping):
    table = raw_table([{"Email": "a@x.com", "Purpose": "Sale Sharing", "Channel": "SMS",
                        "Opt": "no"}])
    mapping = make_mapping(preferences=[{
        "purpose": {"column": "Purpose"}, "channel": {"column": "Channel"},
        "state": {"column": "Opt", "vocabulary": "boolean"}}])
    assert obs(run(table, mapping)) == [(0, "sale_sharing", "sms", "*", "denied", "no")]


def test_membership_layout(raw_table, make_mapping):
    table = raw_table([{"Email": "a@x.com"}, {"Email": "b@x.com"}])
    mapping = make_mapping(preferences=[
        {"purpose": "marketing", "channel": "sms", "state": "denied"},
        {"purpose": "advertising", "scope": "customer_match", "state": "granted"}])
    mapped = run(table, mapping)
    assert sorted(obs(mapped, "record_key", "purpose", "channel", "scope", "state",
                      "raw_value", "source_column")) == [
        (0, "advertising", "*", "customer_match", "granted", "(present)", None),
        (0, "marketing", "sms", "*", "denied", "(present)", None),
        (1, "advertising", "*", "customer_match", "granted", "(present)", None),
        (1, "marketing", "sms", "*", "denied", "(present)", None),
    ]


LIST_RULE = {
    "purpose": "marketing", "channel": "email",
    "list": {"column": "Lists", "separator": ";", "items": {
        "1": {"scope": "newsletter"}, "2": {"scope": "promotions"},
        "7": {"channel": "sms", "scope": "alerts"}}},
}


def test_list_layout_json_array_and_separator_text(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Lists": '["1", 7, 99]'},
        {"Email": "b@x.com", "Lists": " 2 ; 1 "},
        {"Email": "c@x.com", "Lists": None},
        {"Email": "d@x.com", "Lists": "[]"},
    ])
    mapped = run(table, make_mapping(preferences=[LIST_RULE]))
    assert obs(mapped) == [
        (0, "marketing", "email", "newsletter", "granted", "1 listed"),
        (0, "marketing", "sms", "alerts", "granted", "7 listed"),
        (1, "marketing", "email", "newsletter", "granted", "1 listed"),
        (1, "marketing", "email", "promotions", "granted", "2 listed"),
    ]
    # An id the mapping does not know is reported, and gives no observation.
    assert unmapped(mapped) == [(0, "Lists", "99")]
    assert mapped.accounting["rows_mapped"] == 4


def test_list_layout_absent_state(raw_table, make_mapping):
    rule = {**LIST_RULE, "list": {**LIST_RULE["list"], "absent": "denied"}}
    table = raw_table([
        {"Email": "a@x.com", "Lists": "1"},
        {"Email": "b@x.com", "Lists": None},  # no list at all: no observation
        {"Email": "c@x.com", "Lists": "[]"},
    ])
    mapped = run(table, make_mapping(preferences=[rule]))
    assert obs(mapped) == [
        (0, "marketing", "email", "newsletter", "granted", "1 listed"),
        (0, "marketing", "email", "promotions", "denied", "2 not listed"),
        (0, "marketing", "sms", "alerts", "denied", "7 not listed"),
        (2, "marketing", "email", "newsletter", "denied", "1 not listed"),
        (2, "marketing", "email", "promotions", "denied", "2 not listed"),
        (2, "marketing", "sms", "alerts", "denied", "7 not listed"),
    ]


def test_list_layout_from_parquet_list_column(tmp_path, make_mapping):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "brevo.parquet"
    pq.write_table(pa.table({"Email": ["a@x.com"], "Lists": [["2", "7"]]}), path)
    mapping = make_mapping(preferences=[LIST_RULE])
    mapped = run(load_file(path, mapping, "crm", path), mapping)
    assert obs(mapped, "channel", "scope", "state") == [
        ("email", "promotions", "granted"), ("sms", "alerts", "granted")]


def test_unknown_state_value_is_unknown_never_granted(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Opt": "weird"},
        {"Email": "b@x.com", "Opt": "Yes"},
        {"Email": "c@x.com", "Opt": " WEIRD "},
    ])
    mapping = make_mapping(preferences=[{
        "purpose": "marketing", "channel": "email",
        "state": {"column": "Opt", "vocabulary": "boolean", "invert": True}}])
    mapped = run(table, mapping)
    assert obs(mapped, "record_key", "state", "raw_value") == [
        (0, "unknown", "weird"), (1, "denied", "Yes"), (2, "unknown", " WEIRD ")]
    assert unmapped(mapped) == [(0, "Opt", "weird"), (2, "Opt", " WEIRD ")]


def test_named_vocabulary_and_values_on_top(raw_table, make_mapping):
    table = raw_table([{"Email": "a@x.com", "S": "Cleaned"}, {"Email": "b@x.com", "S": "1"},
                       {"Email": "c@x.com", "S": "Bounced"}])
    mapping = make_mapping(
        vocabularies={"status": {"subscribed": "granted", "cleaned": "denied"}},
        preferences=[{"purpose": "marketing", "channel": "email",
                      "state": {"column": "S", "vocabulary": "status",
                                "values": {"1": "granted", "bounced": "ignore"}}}])
    mapped = run(table, mapping)
    assert obs(mapped, "record_key", "state") == [(0, "denied"), (1, "granted")]
    assert unmapped(mapped) == []


def test_unknown_vocabulary_is_an_error(raw_table, make_mapping):
    mapping = make_mapping(preferences=[{"purpose": "marketing",
                                         "state": {"column": "S", "vocabulary": "nope"}}])
    with pytest.raises(InputError, match="unknown vocabulary 'nope'"):
        map_file(raw_table([{"Email": "a@x.com", "S": "x"}]), mapping, IDENTITY, True)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_value_gives_no_observation(raw_table, make_mapping, blank):
    table = raw_table([{"Email": "a@x.com", "Opt": blank}, {"Email": "b@x.com", "Opt": "1"}])
    mapping = make_mapping(preferences=[{"purpose": "marketing",
                                         "state": {"column": "Opt", "vocabulary": "boolean"}}])
    mapped = run(table, mapping)
    assert obs(mapped, "record_key", "state") == [(1, "granted")]
    assert unmapped(mapped) == []
    assert mapped.accounting["rows_mapped"] == 2


def test_entirely_blank_state_column(raw_table, make_mapping):
    import warnings

    table = raw_table([{"Email": "a@x.com", "Opt": None}, {"Email": "b@x.com", "Opt": ""}])
    mapping = make_mapping(preferences=[{"purpose": "marketing",
                                         "state": {"column": "Opt", "vocabulary": "boolean"}}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas warns before it starts to raise
        mapped = run(table, mapping)
    assert mapped.observations.empty
    assert mapped.unmapped.empty


def test_ignore_rows(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Type": "Test ", "Deleted": "no"},
        {"Email": "b@x.com", "Type": "customer", "Deleted": None},
        {"Email": None, "Type": "TEST", "Deleted": "no"},  # ignored beats quarantined
        {"Email": "d@x.com", "Type": "customer", "Deleted": "no"},
    ])
    mapping = make_mapping(ignore_rows=[{"column": "Type", "values": ["test"]},
                                        {"column": "Deleted", "empty": True}])
    mapped = run(table, mapping)
    assert mapped.records["source_row"].tolist() == [4]
    assert obs(mapped, "record_key") == [(0,)]
    assert mapped.quarantine.empty
    assert mapped.accounting == {"rows_read": 4, "rows_mapped": 1, "rows_quarantined": 0,
                                 "rows_ignored": 3}


def test_identifier_problems_are_quarantined(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Phone": "12"},  # one invalid, one good: kept
        {"Email": None, "Phone": None},
        {"Email": "  ", "Phone": ""},
        {"Email": "not-an-email", "Phone": None},
        {"Email": None, "Phone": "(202) 555-0100"},
    ])
    mapping = make_mapping(identifiers={"email": {"column": "Email"},
                                        "phone": {"column": "Phone"}})
    mapped = run(table, mapping)
    assert quarantine(mapped) == [(2, "no identifier"), (3, "no identifier"),
                                  (4, "no usable identifier (invalid values)")]
    assert [[plain(v) for v in row] for row in mapped.records[
        ["source_row", "email", "phone"]].values.tolist()] == [
        [1, "a@x.com", None], [5, None, "+12025550100"]]
    assert mapped.invalid_identifiers == {"email": 1, "phone": 1}
    assert mapped.accounting == {"rows_read": 5, "rows_mapped": 2, "rows_quarantined": 3,
                                 "rows_ignored": 0}


def test_unreadable_timestamp_is_quarantined(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Changed": "2024-03-01T12:00:00Z"},
        {"Email": "b@x.com", "Changed": "yesterday"},
        {"Email": "c@x.com", "Changed": None},
        {"Email": "d@x.com", "Changed": "2024-03-01 07:00:00"},
    ])
    mapping = make_mapping(updated_at={"column": "Changed", "timezone": "America/New_York"})
    mapped = run(table, mapping)
    assert quarantine(mapped) == [(2, "unreadable timestamp in Changed")]
    assert obs(mapped, "record_key", "updated_at") == [
        (0, pd.Timestamp("2024-03-01 12:00", tz="UTC")), (1, pd.NaT),
        (2, pd.Timestamp("2024-03-01 12:00", tz="UTC"))]


def test_timestamp_from_first_present_column_and_per_rule(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Changed": None, "Created": "1709294400", "SmsAt": "1709298000"},
    ])
    mapping = make_mapping(
        updated_at={"column": ["Changed", "Created"], "format": "epoch_s"},
        preferences=[
            {"purpose": "marketing", "channel": "email", "state": "denied"},
            {"purpose": "marketing", "channel": "sms", "state": "denied",
             "updated_at": {"column": "SmsAt", "format": "epoch_s"}}])
    mapped = run(table, mapping)
    assert obs(mapped, "channel", "updated_at") == [
        ("email", pd.Timestamp("2024-03-01 12:00", tz="UTC")),
        ("sms", pd.Timestamp("2024-03-01 13:00", tz="UTC"))]


def test_mapped_column_missing(raw_table, make_mapping):
    table = raw_table([{"Email": "a@x.com"}])
    mapping = make_mapping(preferences=[{"purpose": "marketing",
                                         "state": {"column": "Opt", "vocabulary": "boolean"}}],
                           updated_at={"column": ["Changed", "Created"]})
    with pytest.raises(InputError, match=r"^crm\.csv: mapped column\(s\) not in the file: "
                                         r"Changed or Created, Opt \(system crm\)$"):
        map_file(table, mapping, IDENTITY, True)
    # Without strict columns (JSON), a missing key just means no value.
    mapped = run(table, mapping, strict=False)
    assert mapped.observations.empty
    assert mapped.accounting["rows_mapped"] == 1


def test_capture_source_and_proof_constants_and_columns(raw_table, make_mapping):
    table = raw_table([
        {"Email": "a@x.com", "Src": "footer link", "ConsentId": "c-1", "Keyword": "STOP"},
        {"Email": "b@x.com", "Src": None, "ConsentId": None, "Keyword": "start"},
    ])
    mapping = make_mapping(
        capture_source={"column": "Src"}, proof={"value": "export 2024-03-01"},
        preferences=[
            {"purpose": "marketing", "channel": "email", "state": "granted"},
            {"purpose": "marketing", "channel": "sms",
             "state": {"column": "Keyword", "vocabulary": "sms_keywords"},
             "capture_source": {"value": "sms keyword"}, "proof": {"column": "ConsentId"}}])
    mapped = run(table, mapping)
    assert obs(mapped, "record_key", "channel", "state", "capture_source", "proof") == [
        (0, "email", "granted", "footer link", "export 2024-03-01"),
        (0, "sms", "denied", "sms keyword", "c-1"),
        (1, "email", "granted", None, "export 2024-03-01"),
        (1, "sms", "granted", "sms keyword", None),
    ]


def test_record_id_and_hashed_identifier(raw_table, make_mapping):
    import hashlib

    table = raw_table([{"Id": "003A", "Hash": "J.Doe@Gmail.com"}])
    mapping = make_mapping(record_id="Id", identifiers={
        "email_sha256": {"column": "Hash", "profile": "google"}})
    mapped = run(table, mapping)
    assert mapped.records.to_dict("records") == [{
        "source_row": 1, "record_id": "003A",
        "email_sha256": hashlib.sha256(b"jdoe@gmail.com").hexdigest()}]


def test_load_then_map_counts_bad_rows(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Opt\na@x.com,1\nragged\n,1\nd@x.com,test\n")
    mapping = make_mapping(
        ignore_rows=[{"column": "Opt", "values": ["test"]}],
        preferences=[{"purpose": "marketing",
                      "state": {"column": "Opt", "vocabulary": "boolean"}}])
    mapped = run(load_file(path, mapping, "crm", path), mapping)
    assert quarantine(mapped) == [(2, "expected 2 columns, found 1"), (3, "no identifier")]
    assert mapped.accounting == {"rows_read": 4, "rows_mapped": 1, "rows_quarantined": 2,
                                 "rows_ignored": 1}


def test_json_dot_paths(tmp_path, make_mapping):
    import json

    path = tmp_path / "cdp.json"
    path.write_text(json.dumps([
        {"traits": {"email": "A@x.com"}, "consent": {"marketing": False}},
        {"traits": {}, "consent": {"marketing": True}},
    ]))
    mapping = make_mapping(identifiers={"email": {"column": "traits.email"}}, preferences=[
        {"purpose": "marketing", "state": {"column": "consent.marketing",
                                           "vocabulary": "boolean"}}])
    mapped = run(load_file(path, mapping, "crm", path), mapping, strict=False)
    assert obs(mapped, "record_key", "state", "raw_value") == [(0, "denied", "false")]
    assert quarantine(mapped) == [(2, "no identifier")]


def test_empty_table(raw_table, make_mapping):
    mapping = make_mapping(preferences=[LIST_RULE])
    mapped = run(raw_table([], columns=["Email", "Lists"]), mapping)
    assert mapped.observations.empty
    assert mapped.accounting == {"rows_read": 0, "rows_mapped": 0, "rows_quarantined": 0,
                                 "rows_ignored": 0}
