"""prefsync_audit.mapper: applying a mapping to a loaded export.

Mappings are written as YAML, as users write them; tables as a header and rows.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

from prefsync_audit import mapper
from prefsync_audit.audit import load_canonical
from prefsync_audit.config import IdentityConfig, load_config
from prefsync_audit.errors import InputError
from prefsync_audit.load import ROW, load_file
from prefsync_audit.mapper import OBSERVATION_COLUMNS, map_file

ROOT = Path(__file__).resolve().parent.parent

IDENTITY = IdentityConfig()
OPT_RULE = "preferences: [{purpose: marketing, state: {column: Opt, vocabulary: boolean}}]"
LIST_RULE = """
preferences:
  - purpose: marketing
    channel: email
    list:
      column: Lists
      separator: ";"
      items:
        "1": {scope: newsletter}
        "2": {scope: promotions}
        "7": {channel: sms, scope: alerts}
"""


@pytest.fixture
def M(make_mapping):
    return lambda text: make_mapping(**yaml.safe_load(text))


def _as_read(table, form):
    """``table`` with its text columns as a file read for mapping may hold them:
    all categoricals (repeated values) or all Arrow text (ids)."""
    for name in table.frame.columns.drop(ROW):
        column = table.frame[name]
        if form == "coded":
            table.frame[name] = column.astype("category")
        elif form == "arrow" and column.map(lambda v: v is None or isinstance(v, str)).all():
            table.frame[name] = column.astype("str")
    return table


@pytest.fixture(params=["objects", "coded", "arrow"])
def T(raw_table, request):
    """A table of text rows; each test runs on the columns as Python objects, as
    categoricals and as Arrow text (how ``load_file`` may hand them to the mapper)."""
    return lambda columns, *rows: _as_read(
        raw_table([list(r) for r in rows], columns=columns.split()), request.param
    )


def run(table, mapping, strict=True):
    mapped = map_file(table, mapping, IDENTITY, strict)
    acc = mapped.accounting
    # Every row is accounted for, in every test.
    assert acc["rows_read"] == acc["rows_mapped"] + acc["rows_quarantined"] + acc["rows_ignored"]
    assert len(mapped.records) == acc["rows_mapped"]
    assert list(mapped.observations.columns) == OBSERVATION_COLUMNS
    return mapped


def counts(mapped):
    """(rows_read, rows_mapped, rows_quarantined, rows_ignored)."""
    acc = mapped.accounting
    return acc["rows_read"], acc["rows_mapped"], acc["rows_quarantined"], acc["rows_ignored"]


def plain(value):
    return None if value is not pd.NaT and pd.isna(value) else value


def tuples(frame, columns=None):
    frame = frame[list(columns)] if columns else frame
    return [tuple(plain(v) for v in row) for row in frame.itertuples(index=False)]


def obs(mapped, *columns):
    """Observations as sorted tuples (missing text as None)."""
    columns = columns or ("record_key", "purpose", "channel", "scope", "state", "raw_value")
    return sorted(tuples(mapped.observations, columns), key=repr)


def quarantine(mapped):
    return tuples(mapped.quarantine, ["source_row", "reason"])


def test_wide_layout_with_invert(T, M):
    table = T("Email HasOptedOutOfEmail SmsOptIn",
              (" A@X.com", "TRUE", "y"), ("b@x.com", "false", " N "),
              ("c@x.com", "0", None))  # fmt: skip
    mapping = M("""
        preferences:
          - {purpose: marketing, channel: email,
             state: {column: HasOptedOutOfEmail, vocabulary: boolean, invert: true}}
          - {purpose: marketing, channel: sms, state: {column: SmsOptIn, vocabulary: boolean}}
    """)
    mapped = run(table, mapping)
    assert tuples(mapped.records, ["source_row", "email"]) == [
        (1, "a@x.com"), (2, "b@x.com"), (3, "c@x.com")]  # fmt: skip
    assert obs(mapped) == [
        (0, "marketing", "email", "*", "denied", "TRUE"),
        (0, "marketing", "sms", "*", "granted", "y"),
        (1, "marketing", "email", "*", "granted", "false"),
        (1, "marketing", "sms", "*", "denied", " N "),
        (2, "marketing", "email", "*", "granted", "0"),
    ]
    assert set(mapped.observations["source_column"]) == {"HasOptedOutOfEmail", "SmsOptIn"}
    assert counts(mapped) == (3, 3, 0, 0)


def test_invert_never_flips_explicit_values(T, M):
    table = T("Email OptedOut", ("a@x.com", "TRUE"), ("b@x.com", "pending"), ("c@x.com", "Maybe"))
    mapping = M("""
        preferences:
          - {purpose: marketing, channel: email,
             state: {column: OptedOut, vocabulary: boolean, invert: true,
                     values: {pending: denied}}}
    """)
    mapped = run(table, mapping)
    assert [o[4] for o in obs(mapped)] == ["denied", "denied", "unknown"]
    assert tuples(mapped.unmapped, ["raw_value"]) == [("Maybe",)]


#: A long layout: a purpose column and a status column, each with values ignored.
PURPOSE_AND_STATUS = """
preferences:
  - purpose: {column: Purpose, values: {marketing email: marketing, Transactional: ignore}}
    channel: email
    state:
      column: Status
      values: {subscribed: granted, unsubscribed: denied, pending: ignore}
"""


def test_long_layout_purpose_from_column(T, M):
    table = T("Email Purpose Status",
              ("a@x.com", "Marketing  Email", "SUBSCRIBED"),
              ("a@x.com", "transactional", "unsubscribed"),
              ("b@x.com", "Surveys", "subscribed"),
              ("b@x.com", "marketing email", "pending"),
              ("c@x.com", "marketing email", "unsubscribed"))  # fmt: skip
    mapped = run(table, M(PURPOSE_AND_STATUS))
    assert obs(mapped) == [
        (0, "marketing", "email", "*", "granted", "SUBSCRIBED"),
        (4, "marketing", "email", "*", "denied", "unsubscribed"),
    ]
    # An unknown purpose is unmapped; an ignored one and an ignored state are not.
    assert tuples(mapped.unmapped) == [(2, "Purpose", "Surveys")]
    assert counts(mapped) == (5, 5, 0, 0)


def test_observations_text_is_categorical_with_the_values_kept(T, M):
    table = T("Email Purpose Status",
              ("a@x.com", "Marketing  Email", "SUBSCRIBED"),
              ("b@x.com", "transactional", "unsubscribed"),
              ("c@x.com", "marketing email", "pending"),
              ("d@x.com", "marketing email", "maybe"))  # fmt: skip
    mapping = M(PURPOSE_AND_STATUS + "  - {purpose: profiling, state: denied}\n")
    observations = run(table, mapping).observations
    # Key parts, states, raw values and source columns come as codes, with only
    # the values of the observations kept (not "ignore", not the ignored rows').
    for column, categories in {
        "purpose": ["marketing", "profiling"],
        "channel": ["*", "email"],
        "scope": ["*"],
        "state": ["denied", "granted", "unknown"],
        "raw_value": ["(present)", "SUBSCRIBED", "maybe"],
        "source_column": ["Status"],
    }.items():
        assert isinstance(observations[column].dtype, pd.CategoricalDtype), column
        assert sorted(observations[column].cat.categories) == sorted(categories), column
    assert observations["state"].tolist() == ["granted", "unknown", *["denied"] * 4]
    assert observations["source_column"].isna().tolist() == [False, False, *[True] * 4]


def test_long_layout_without_values_uses_the_raw_value(T, M):
    table = T("Email Purpose Channel Opt", ("a@x.com", "Sale Sharing", "SMS", "no"))
    mapping = M("""
        preferences:
          - {purpose: {column: Purpose}, channel: {column: Channel},
             state: {column: Opt, vocabulary: boolean}}
    """)
    assert obs(run(table, mapping)) == [(0, "sale_sharing", "sms", "*", "denied", "no")]


def test_membership_layout(T, M):
    mapping = M("""
        preferences:
          - {purpose: marketing, channel: sms, state: denied}
          - {purpose: advertising, scope: customer_match, state: granted}
    """)
    mapped = run(T("Email", ("a@x.com",), ("b@x.com",)), mapping)
    columns = ("record_key", "purpose", "channel", "scope", "state", "raw_value", "source_column")
    assert obs(mapped, *columns) == [
        (0, "advertising", "*", "customer_match", "granted", "(present)", None),
        (0, "marketing", "sms", "*", "denied", "(present)", None),
        (1, "advertising", "*", "customer_match", "granted", "(present)", None),
        (1, "marketing", "sms", "*", "denied", "(present)", None),
    ]


def test_list_layout_json_array_and_separator_text(T, M):
    table = T("Email Lists", ("a@x.com", '["1", 7, 99]'), ("b@x.com", " 2 ; 1 "),
              ("c@x.com", None), ("d@x.com", "[]"))  # fmt: skip
    mapped = run(table, M(LIST_RULE))
    assert obs(mapped) == [
        (0, "marketing", "email", "newsletter", "granted", "1 listed"),
        (0, "marketing", "sms", "alerts", "granted", "7 listed"),
        (1, "marketing", "email", "newsletter", "granted", "1 listed"),
        (1, "marketing", "email", "promotions", "granted", "2 listed"),
    ]
    # An id the mapping does not know is reported, and gives no observation.
    assert tuples(mapped.unmapped) == [(0, "Lists", "99")]
    assert counts(mapped) == (4, 4, 0, 0)


def test_list_layout_absent_state(T, M):
    # b@x.com has no list at all: no observation, not "absent from every list".
    table = T("Email Lists", ("a@x.com", "1"), ("b@x.com", None), ("c@x.com", "[]"))
    mapped = run(table, M(LIST_RULE.replace("separator:", "absent: denied\n      separator:")))
    assert obs(mapped) == [
        (0, "marketing", "email", "newsletter", "granted", "1 listed"),
        (0, "marketing", "email", "promotions", "denied", "2 not listed"),
        (0, "marketing", "sms", "alerts", "denied", "7 not listed"),
        (2, "marketing", "email", "newsletter", "denied", "1 not listed"),
        (2, "marketing", "email", "promotions", "denied", "2 not listed"),
        (2, "marketing", "sms", "alerts", "denied", "7 not listed"),
    ]


def test_list_layout_from_parquet_list_column(tmp_path, M):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "brevo.parquet"
    pq.write_table(pa.table({"Email": ["a@x.com"], "Lists": [["2", "7"]]}), path)
    mapping = M(LIST_RULE)
    mapped = run(load_file(path, mapping, "crm", path), mapping)
    assert obs(mapped, "channel", "scope", "state") == [
        ("email", "promotions", "granted"), ("sms", "alerts", "granted")]  # fmt: skip


def test_unknown_state_value_is_unknown_never_granted(T, M):
    table = T("Email Opt", ("a@x.com", "weird"), ("b@x.com", "Yes"), ("c@x.com", " WEIRD "))
    mapping = M("preferences: [{purpose: marketing, channel: email,"
                " state: {column: Opt, vocabulary: boolean, invert: true}}]")  # fmt: skip
    mapped = run(table, mapping)
    assert obs(mapped, "record_key", "state", "raw_value") == [
        (0, "unknown", "weird"), (1, "denied", "Yes"), (2, "unknown", " WEIRD ")]  # fmt: skip
    assert tuples(mapped.unmapped) == [(0, "Opt", "weird"), (2, "Opt", " WEIRD ")]


def test_named_vocabulary_and_values_on_top(T, M):
    table = T("Email S", ("a@x.com", "Cleaned"), ("b@x.com", "1"), ("c@x.com", "Bounced"))
    mapping = M("""
        vocabularies: {status: {subscribed: granted, cleaned: denied}}
        preferences:
          - purpose: marketing
            state: {column: S, vocabulary: status, values: {"1": granted, bounced: ignore}}
    """)
    mapped = run(table, mapping)
    assert obs(mapped, "record_key", "state") == [(0, "denied"), (1, "granted")]
    assert mapped.unmapped.empty


def test_unknown_vocabulary_is_an_error_when_the_mapping_loads(M):
    # Caught with the mapping, not when the first file is mapped.
    with pytest.raises(ValueError, match="unknown vocabulary 'nope'"):
        M("preferences: [{purpose: marketing, state: {column: S, vocabulary: nope}}]")


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_value_gives_no_observation(T, M, blank):
    mapped = run(T("Email Opt", ("a@x.com", blank), ("b@x.com", "1")), M(OPT_RULE))
    assert obs(mapped, "record_key", "state") == [(1, "granted")]
    assert mapped.unmapped.empty
    assert counts(mapped) == (2, 2, 0, 0)


def test_entirely_blank_state_column(T, M):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas warns before it starts to raise
        mapped = run(T("Email Opt", ("a@x.com", None), ("b@x.com", "")), M(OPT_RULE))
    assert mapped.observations.empty
    assert mapped.unmapped.empty


def test_ignore_rows(T, M):
    table = T("Email Type Deleted",
              ("a@x.com", "Test ", "no"),
              ("b@x.com", "customer", None),
              (None, "TEST", "no"),  # ignored beats quarantined
              ("d@x.com", "customer", "no"))  # fmt: skip
    mapping = M("ignore_rows: [{column: Type, values: [test]}, {column: Deleted, empty: true}]")
    mapped = run(table, mapping)
    assert mapped.records["source_row"].tolist() == [4]
    assert obs(mapped, "record_key") == [(0,)]
    assert mapped.quarantine.empty
    assert counts(mapped) == (4, 1, 0, 3)


def test_identifier_problems_are_quarantined(T, M):
    table = T("Email Phone",
              ("a@x.com", "12"),  # one invalid, one good: kept
              (None, None), ("  ", ""), ("not-an-email", None),
              (None, "(202) 555-0100"))  # fmt: skip
    mapped = run(table, M("identifiers: {email: {column: Email}, phone: {column: Phone}}"))
    assert quarantine(mapped) == [
        (2, "no identifier"),
        (3, "no identifier"),
        (4, "no usable identifier (invalid values)"),
    ]
    assert tuples(mapped.records, ["source_row", "email", "phone"]) == [
        (1, "a@x.com", None), (5, None, "+12025550100")]  # fmt: skip
    assert mapped.invalid_identifiers == {"email": 1, "phone": 1}
    assert counts(mapped) == (5, 2, 3, 0)


def test_unreadable_timestamp_is_quarantined(T, M):
    table = T("Email Changed", ("a@x.com", "2024-03-01T12:00:00Z"), ("b@x.com", "yesterday"),
              ("c@x.com", None), ("d@x.com", "2024-03-01 07:00:00"))  # fmt: skip
    mapped = run(table, M("updated_at: {column: Changed, timezone: America/New_York}"))
    assert quarantine(mapped) == [(2, "unreadable timestamp in Changed")]
    noon = pd.Timestamp("2024-03-01 12:00", tz="UTC")
    assert obs(mapped, "record_key", "updated_at") == [(0, noon), (1, pd.NaT), (2, noon)]
    assert counts(mapped) == (4, 3, 1, 0)


def test_timestamp_from_first_present_column_and_per_rule(T, M):
    table = T("Email Changed Created SmsAt", ("a@x.com", None, "1709294400", "1709298000"))
    mapping = M("""
        updated_at: {column: [Changed, Created], format: epoch_s}
        preferences:
          - {purpose: marketing, channel: email, state: denied}
          - {purpose: marketing, channel: sms, state: denied,
             updated_at: {column: SmsAt, format: epoch_s}}
    """)
    assert obs(run(table, mapping), "channel", "updated_at") == [
        ("email", pd.Timestamp("2024-03-01 12:00", tz="UTC")),
        ("sms", pd.Timestamp("2024-03-01 13:00", tz="UTC")),
    ]


def test_mapped_column_missing(T, M):
    table = T("Email", ("a@x.com",))
    mapping = M(OPT_RULE + "\nupdated_at: {column: [Changed, Created]}")
    message = (
        r"^crm\.csv: mapped column\(s\) not in the file: Changed or Created, Opt \(system crm\)$"
    )
    with pytest.raises(InputError, match=message):
        map_file(table, mapping, IDENTITY, True)
    # Without strict columns (JSON), a missing key just means no value.
    mapped = run(table, mapping, strict=False)
    assert mapped.observations.empty
    assert counts(mapped) == (1, 1, 0, 0)


def test_capture_source_and_proof_constants_and_columns(T, M):
    table = T("Email Src ConsentId Keyword",
              ("a@x.com", "footer link", "c-1", "STOP"),
              ("b@x.com", None, None, "start"))  # fmt: skip
    mapping = M("""
        capture_source: {column: Src}
        proof: {value: export 2024-03-01}
        preferences:
          - {purpose: marketing, channel: email, state: granted}
          - purpose: marketing
            channel: sms
            state: {column: Keyword, vocabulary: sms_keywords}
            capture_source: {value: sms keyword}
            proof: {column: ConsentId}
    """)
    columns = ("record_key", "channel", "state", "capture_source", "proof")
    assert obs(run(table, mapping), *columns) == [
        (0, "email", "granted", "footer link", "export 2024-03-01"),
        (0, "sms", "denied", "sms keyword", "c-1"),
        (1, "email", "granted", None, "export 2024-03-01"),
        (1, "sms", "granted", "sms keyword", None),
    ]


def test_record_id_and_hashed_identifier(T, M):
    table = T("Id Hash", ("003A", "J.Doe@Gmail.com"))
    mapping = M("record_id: Id\nidentifiers: {email_sha256: {column: Hash, profile: google}}")
    digest = hashlib.sha256(b"jdoe@gmail.com").hexdigest()
    assert tuples(run(table, mapping).records) == [(1, "003A", digest)]


def test_load_then_map_counts_bad_rows(tmp_path, M):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Opt\na@x.com,1\nragged\n,1\nd@x.com,test\n")
    mapping = M(OPT_RULE + "\nignore_rows: [{column: Opt, values: [test]}]")
    mapped = run(load_file(path, mapping, "crm", path), mapping)
    assert quarantine(mapped) == [(2, "expected 2 columns, found 1"), (3, "no identifier")]
    assert counts(mapped) == (4, 1, 2, 1)


def test_json_dot_paths(tmp_path, M):
    path = tmp_path / "cdp.json"
    records = [{"traits": {"email": "A@x.com"}, "consent": {"marketing": False}},
               {"traits": {}, "consent": {"marketing": True}}]  # fmt: skip
    path.write_text(json.dumps(records))
    mapping = M("""
        identifiers: {email: {column: traits.email}}
        preferences: [{purpose: marketing, state: {column: consent.marketing, vocabulary: boolean}}]
    """)
    mapped = run(load_file(path, mapping, "crm", path), mapping, strict=False)
    assert obs(mapped, "record_key", "state", "raw_value") == [(0, "denied", "false")]
    assert quarantine(mapped) == [(2, "no identifier")]
    assert counts(mapped) == (2, 1, 1, 0)


def test_empty_table(T, M):
    mapped = run(T("Email Lists"), M(LIST_RULE))
    assert mapped.observations.empty
    assert counts(mapped) == (0, 0, 0, 0)


@pytest.mark.parametrize("scenario", ["retail", "vendors"])
def test_rows_mapped_in_batches_as_in_one(scenario, monkeypatch):
    """Every sample export (CSV, JSON with ``explode``, signals, lists, column
    patterns, quarantined rows) mapped a few rows at a time gives the same
    canonical tables: records and quarantined rows in the same order, the
    observations of each rule batch by batch (a column-pattern rule's columns
    one after the other within each batch)."""
    config = load_config(ROOT / "sample_exports" / scenario / "audit.yaml")
    whole = load_canonical(config)
    monkeypatch.setattr(mapper, "BATCH_ROWS", 3)
    # Files loaded and mapped three at a time are joined in the same order.
    batched = load_canonical(config, workers=3)
    for name in ("records", "quarantine", "inputs"):
        pd.testing.assert_frame_equal(getattr(batched, name), getattr(whole, name), obj=name)
    for name in ("observations", "unmapped"):
        frames = [getattr(canonical, name) for canonical in (batched, whole)]
        by_row = [f.sort_values(list(f.columns), kind="stable", ignore_index=True) for f in frames]
        pd.testing.assert_frame_equal(*by_row, obj=name)
    pd.testing.assert_frame_equal(batched.invalid_identifiers, whole.invalid_identifiers)
    assert len(whole.records) > 3 * 20 and len(whole.quarantine) and len(whole.unmapped)


def test_batches_keep_a_records_elements_together(tmp_path, M, monkeypatch):
    path = tmp_path / "profiles.json"
    path.write_text(
        json.dumps(
            [
                {"email": f"p{i}@example.com", "lists": [{"id": n} for n in range(i % 4)]}
                for i in range(10)
            ]
        )
    )
    mapping = M(
        """
explode: lists
identifiers: {email: {column: email}}
preferences: [{purpose: marketing, state: granted}]
"""
    )
    table = load_file(path, mapping, "esp", "profiles.json")
    monkeypatch.setattr(mapper, "BATCH_ROWS", 2)
    bounds = mapper._row_batches(table.frame.reset_index(drop=True), mapping)
    source_rows = table.frame[ROW].to_numpy()
    # 16 rows: records of 1, 1, 2, 3, 1, 1, 2, 3, 1, 1 (an empty array is one row);
    # a batch starting inside a record starts at the next record instead.
    assert bounds == [(0, 2), (2, 4), (4, 7), (7, 8), (8, 11), (11, 14), (14, 16)]
    for start, _ in bounds[1:]:
        assert source_rows[start - 1] != source_rows[start]
    whole = map_file(table, mapping, IDENTITY, strict_columns=False)
    assert whole.accounting["rows_mapped"] == 16 and len(whole.records) == 10
