"""prefsync_audit.normalize: identifiers, timestamps and vocabularies."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prefsync_audit.mapping import TimestampSpec
from prefsync_audit.normalize import (
    BOOLEAN_VOCABULARY,
    EARLIEST,
    LATEST,
    SMS_KEYWORDS_VOCABULARY,
    _arrow_ascii_distinct,
    _arrow_distinct,
    apply_email_profile,
    apply_phone_profile,
    apply_profile,
    identifier_fast_path,
    identifier_normalizer,
    make_hash_normalizer,
    make_phone_normalizer,
    map_distinct,
    normalize_email,
    normalize_id,
    parse_timestamps,
    vocabulary_key,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- email -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("\tA+tag@Sub.Example.org\n", "a+tag@sub.example.org"),
        ("Jose\u0301@example.com", "jos\u00e9@example.com"),  # NFD → NFC
        ("ZOË@EXAMPLE.COM", "zoë@example.com"),
        ("\u03aa\u0301@x.gr", "\u0390@x.gr"),  # the result is NFC even after lowercasing
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "not-an-email", "a@b", "a b@x.com", "a@@x.com", "@x.com", "a@x.com b@y.com"]
)
def test_invalid_email_is_none(raw):
    assert normalize_email(raw) is None


def test_google_profile_applies_gmail_rule_meta_does_not():
    email = "j.o.h.n+news@gmail.com"
    assert apply_email_profile(email, "google") == "john@gmail.com"
    assert apply_email_profile("j.doe+x@googlemail.com", "google") == "jdoe@googlemail.com"
    assert apply_email_profile(email, "meta") == email
    assert apply_email_profile(email, "plain") == email
    # Only Gmail addresses: other providers keep dots and tags.
    assert apply_email_profile("j.doe+x@yahoo.com", "google") == "j.doe+x@yahoo.com"


# --- phone -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "(202) 555-0100",
        "202-555-0100",
        "202.555.0100",
        "2025550100",
        "+1 202 555 0100",
        "1-202-555-0100",
        " +1 (202) 555-0100 ",
        "+12025550100",
    ],
)
def test_phone_to_e164_with_default_region(raw):
    assert make_phone_normalizer("US")(raw) == "+12025550100"


def test_phone_default_region_decides_national_numbers():
    assert make_phone_normalizer("GB")("020 7946 0958") == "+442079460958"
    assert make_phone_normalizer("US")("020 7946 0958") is None
    assert make_phone_normalizer("US")("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("raw", ["12345", "abc", "", "555-0100", "+1 (555) 555-0100"])
def test_invalid_phone_is_none(raw):
    assert make_phone_normalizer("US")(raw) is None


def test_e164_fast_path_skips_parsing(monkeypatch):
    import phonenumbers

    def boom(*args, **kwargs):
        raise AssertionError("parsed an E.164 number")

    monkeypatch.setattr(phonenumbers, "parse", boom)
    assert make_phone_normalizer("US")("+442079460958") == "+442079460958"
    assert make_phone_normalizer("US")(" +12025550100 ") == "+12025550100"


def test_meta_phone_profile_drops_plus():
    assert apply_phone_profile("+12025550100", "meta") == "12025550100"
    assert apply_phone_profile("+12025550100", "google") == "+12025550100"


# --- ids and hashes --------------------------------------------------------


def test_normalize_id():
    assert normalize_id("  C-001 ") == "C-001"
    assert normalize_id("   ") is None


def test_sha256_hex_is_lowercased():
    digest = sha("a@x.com")
    normalize = make_hash_normalizer("email", "plain", "US")
    assert normalize(digest.upper()) == digest
    assert normalize(f"  {digest} ") == digest


def test_sha256_plain_email_hashed_under_profile():
    assert make_hash_normalizer("email", "google", "US")("J.Doe+ads@Gmail.com") == sha(
        "jdoe@gmail.com"
    )
    assert make_hash_normalizer("email", "meta", "US")("J.Doe+ads@Gmail.com") == sha(
        "j.doe+ads@gmail.com"
    )
    assert make_hash_normalizer("email", "plain", "US")("not an email") is None


def test_sha256_plain_phone_hashed_under_profile():
    assert make_hash_normalizer("phone", "meta", "US")("(202) 555-0100") == sha("12025550100")
    assert make_hash_normalizer("phone", "plain", "US")("(202) 555-0100") == sha("+12025550100")
    assert make_hash_normalizer("phone", "meta", "US")("12") is None


def test_sha256_of_other_kinds_hashes_trimmed_text():
    assert make_hash_normalizer("device_id", "plain", "US")(" abc ") == sha("abc")


@pytest.mark.parametrize(
    ("kind", "normalizer", "raw", "expected"),
    [
        ("email", "email", " A@X.com", "a@x.com"),
        ("phone", "phone", "202 555 0100", "+12025550100"),
        ("customer_id", "id", " 42 ", "42"),
        ("email_sha256", "sha256", "A@X.com", sha("a@x.com")),
        ("phone_sha256", "sha256", "202 555 0100", sha("+12025550100")),
        ("customer_id", "none", " 42 ", " 42 "),
    ],
)
def test_identifier_normalizer(kind, normalizer, raw, expected):
    assert identifier_normalizer(kind, normalizer, "plain", "US")(raw) == expected


def test_map_distinct_calls_once_per_value():
    calls = []

    def upper(value):
        calls.append(value)
        return value.upper()

    values = pd.Series(["a", "b", None, "a", "a"], dtype="object")
    result = map_distinct(values, upper)
    assert result.tolist()[:2] == ["A", "B"]
    assert pd.isna(result[2])
    assert result.tolist()[3:] == ["A", "A"]
    assert sorted(calls) == ["a", "b"]


# --- idempotence -----------------------------------------------------------

_local = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@given(local=_local, domain=st.sampled_from(["example.com", "GMail.com", "ÉCOLE.fr"]))
def test_email_normalizer_is_idempotent(local, domain):
    once = normalize_email(f"{local}@{domain}")
    if once is not None:
        assert normalize_email(once) == once


@given(st.text(max_size=20))
@example("\u03aa\u0301@x.com")  # lowercasing Ϊ́ leaves text that is not NFC
def test_email_normalizer_is_idempotent_on_any_text(text):
    once = normalize_email(text)
    if once is not None:
        assert normalize_email(once) == once


@given(st.text(max_size=20))
def test_id_normalizer_is_idempotent(text):
    once = normalize_id(text)
    if once is not None:
        assert normalize_id(once) == once


@given(st.text(max_size=30))
def test_hash_normalizer_is_idempotent(text):
    normalize = make_hash_normalizer("email", "google", "US")
    once = normalize(text)
    if once is not None:
        assert normalize(once) == once


@pytest.mark.parametrize("raw", ["(202) 555-0100", "+44 20 7946 0958", "+33 1 42 68 53 00"])
def test_phone_normalizer_is_idempotent(raw):
    normalize = make_phone_normalizer("US")
    once = normalize(raw)
    assert once is not None
    assert normalize(once) == once


# --- vocabularies ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  Opted   IN ", "opted in"),
        ("TRUE", "true"),
        ("Y", "y"),
        ("\tNo\n", "no"),
        ("STRASSE", "strasse"),
    ],
)
def test_vocabulary_key_ignores_case_and_spaces(raw, key):
    assert vocabulary_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("true", "granted"),
        ("TRUE", "granted"),
        ("True", "granted"),
        ("1", "granted"),
        ("Y", "granted"),
        ("yes", "granted"),
        (" Yes ", "granted"),
        ("on", "granted"),
        ("false", "denied"),
        ("FALSE", "denied"),
        ("0", "denied"),
        ("N", "denied"),
        ("no", "denied"),
        ("off", "denied"),
        ("Opted  Out", "denied"),
    ],
)
def test_boolean_vocabulary_spellings(raw, state):
    assert BOOLEAN_VOCABULARY[vocabulary_key(raw)] == state


@pytest.mark.parametrize("raw", ["maybe", "2", "", "null"])
def test_boolean_vocabulary_does_not_guess(raw):
    assert vocabulary_key(raw) not in BOOLEAN_VOCABULARY


def test_sms_keywords():
    assert SMS_KEYWORDS_VOCABULARY[vocabulary_key("STOP")] == "denied"
    assert SMS_KEYWORDS_VOCABULARY[vocabulary_key("Unstop")] == "granted"
    assert SMS_KEYWORDS_VOCABULARY[vocabulary_key("HELP")] == "ignore"


# --- timestamps ------------------------------------------------------------


def parse(values, **spec):
    result, bad = parse_timestamps(
        pd.Series(values, dtype="object"), TimestampSpec(column="t", **spec)
    )
    assert str(result.dtype) == "datetime64[ns, UTC]"
    return result.tolist(), bad.tolist()


def utc(text):
    return pd.Timestamp(text, tz="UTC")


def test_iso8601_with_z_offset_and_naive_in_assumed_zone():
    values, bad = parse(
        [
            "2024-03-01T12:00:00Z",
            "2024-03-01T12:00:00+02:00",
            "2024-03-01T12:00:00-0500",
            "2024-03-01 12:00:00",
            "2024-07-01T12:00:00",
            "2024-03-01",
        ],
        timezone="America/New_York",
    )
    assert values == [
        utc("2024-03-01 12:00"),
        utc("2024-03-01 10:00"),
        utc("2024-03-01 17:00"),
        utc("2024-03-01 17:00"),
        utc("2024-07-01 16:00"),  # EDT in summer
        utc("2024-03-01 05:00"),
    ]
    assert bad == [False] * 6


def test_iso8601_naive_defaults_to_utc():
    assert parse(["2024-03-01T12:00:00.250"])[0] == [utc("2024-03-01 12:00:00.250")]


def test_strftime_pattern():
    values, bad = parse(
        ["01/03/2024 12:00", "31/12/2023 23:30", "13/13/2024 12:00"],
        format="%d/%m/%Y %H:%M",
        timezone="Europe/Berlin",
    )
    assert values[:2] == [utc("2024-03-01 11:00"), utc("2023-12-31 22:30")]
    assert pd.isna(values[2])
    assert bad == [False, False, True]


def test_strftime_pattern_with_offset():
    values, bad = parse(
        ["2024-03-01 12:00 +0100"], format="%Y-%m-%d %H:%M %z", timezone="America/New_York"
    )
    assert values == [utc("2024-03-01 11:00")]
    assert bad == [False]


def test_epoch_seconds():
    values, bad = parse(
        ["1709294400", "1709294400.5", " 1709294400 ", "soon", "-100"], format="epoch_s"
    )
    assert values[:3] == [
        utc("2024-03-01 12:00"),
        utc("2024-03-01 12:00:00.5"),
        utc("2024-03-01 12:00"),
    ]
    assert bad == [False, False, False, True, True]


def test_epoch_milliseconds():
    values, bad = parse(
        ["1709294400000", "1709294400123", "1709294400", "9" * 20], format="epoch_ms"
    )
    assert values[:2] == [utc("2024-03-01 12:00"), utc("2024-03-01 12:00:00.123")]
    # Seconds read as milliseconds land in 1970: out of range, flagged.
    assert bad == [False, False, True, True]


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "1900-01-01",
        "1900-01-01T00:00:00Z",
        "9999-12-31",
        "9999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "1989-12-31T23:59:59Z",
        "0000-00-00 00:00:00",
    ],
)
def test_bad_and_out_of_range_timestamps_are_flagged(raw):
    values, bad = parse([raw, "2024-01-01T00:00:00Z"])
    assert pd.isna(values[0])
    assert bad == [True, False]


def test_missing_values_are_not_bad():
    values, bad = parse([None, "2024-01-01T00:00:00Z", None])
    assert pd.isna(values[0]) and pd.isna(values[2])
    assert bad == [False, False, False]


def test_no_values_at_all():
    assert parse([]) == ([], [])
    _values, bad = parse([None, None])
    assert bad == [False, False]


def test_repeated_values_share_one_parse():
    values, bad = parse(["2024-01-01T00:00:00Z"] * 3 + ["x"] * 2)
    assert values[:3] == [utc("2024-01-01")] * 3
    assert bad == [False, False, False, True, True]


def test_index_is_kept():
    series = pd.Series(["2024-01-01T00:00:00Z", "bad"], index=[10, 20], dtype="object")
    result, bad = parse_timestamps(series, TimestampSpec(column="t"))
    assert result.index.tolist() == [10, 20]
    assert bad.to_dict() == {10: False, 20: True}


@pytest.mark.parametrize(
    "text",
    ["(212) 555-0123", "212.555.0123", "1-212-555-0123", "+1 212 555 0123", "2125550123",
     "(012) 555-0123", "555-0123", "1 (415) 555-0132", "+44 20 7946 0958", "(212) 555-01234"],
)  # fmt: skip
def test_north_american_fast_path_agrees_with_phonenumbers(text):
    import phonenumbers

    try:
        number = phonenumbers.parse(text, "US")
        expected = (
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_valid_number(number)
            else None
        )
    except phonenumbers.NumberParseException:
        expected = None
    assert make_phone_normalizer("US")(text) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2105, 12, 31)),
            st.sampled_from(["T", " "]),
            st.sampled_from(["", ".5", ".123456", ".000000001"]),
            st.sampled_from(["", "Z", "+02:00", "-05:30", "z", "+0200"]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["UTC", "America/New_York", "Europe/Berlin"]),
)
def test_plain_iso_timestamps_parse_as_pandas_parses_them(parts, timezone) -> None:
    """The Arrow path for everyday ISO 8601 text gives what pandas gives."""
    texts = [f"{d:%Y-%m-%d}{sep}{d:%H:%M:%S}{frac}{zone}" for d, sep, frac, zone in parts]
    spec = TimestampSpec(column="t", timezone=timezone)
    got, _ = parse_timestamps(pd.Series(texts, dtype="object"), spec)
    expected = []
    for text in texts:
        if re.search(r"(Z|[+-]\d{2}:?\d{2})$", text, re.IGNORECASE):
            stamp = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        else:
            stamp = pd.to_datetime(text, format="ISO8601", errors="coerce")
            if pd.notna(stamp):
                stamp = stamp.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        if pd.notna(stamp):
            stamp = stamp.tz_convert("UTC")
        expected.append(stamp if pd.notna(stamp) and EARLIEST <= stamp < LATEST else pd.NaT)
    assert got.tolist() == pd.Series(expected, dtype="datetime64[ns, UTC]").tolist()


def test_distinct_times_in_arrow_parse_as_objects_do() -> None:
    """A column of mostly distinct times kept in Arrow is parsed row by row
    (not per distinct value): same times, same bad rows as the object path."""
    start = pd.Timestamp("2024-01-01T00:00:00Z")
    values = [
        (start + pd.Timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(9000)
    ]
    odd = [
        " 2024-03-01T12:00:00Z\x1c",
        "2024-03-01 12:00:00",
        "2024-03-01T12:00:00-0500",
        "2024-02-30T00:00:00Z",
        "9999-12-31T00:00:00Z",
        "not a time",
        None,
        "",
    ]
    for position, value in enumerate(odd):
        values[position * 1000] = value
    spec = TimestampSpec(column="t", timezone="America/New_York")
    arrow = pd.Series(values, dtype="str")
    assert _arrow_ascii_distinct(arrow)  # the row-by-row path is the one tested
    as_objects = pd.Series(values, dtype="object").where(pd.Series(values).notna(), None)
    parsed, bad = parse_timestamps(arrow, spec)
    expected, expected_bad = parse_timestamps(as_objects, spec)
    pd.testing.assert_series_equal(parsed, expected)
    pd.testing.assert_series_equal(bad, expected_bad)
    assert bad.sum() == 4  # impossible date, 9999, text, "" (blank is not missing here)
    assert parsed[0] == pd.Timestamp("2024-03-01T12:00:00Z")


@pytest.mark.parametrize(
    ("kind", "normalizer", "make"),
    [
        ("email", "email", lambda i: f" User.{i}@Example.COM "),
        (
            "phone",
            "phone",
            lambda i: f"(212) 555-{i % 10000:04d}" if i % 3 else f"+44 20 7946 {i % 10000:04d}",
        ),
        ("customer_id", "id", lambda i: f" C-{i:06d} "),
        ("email_sha256", "sha256", lambda i: hashlib.sha256(str(i).encode()).hexdigest().upper()),
    ],
)
def test_distinct_identifiers_in_arrow_map_as_objects_do(kind, normalizer, make) -> None:
    """A column of mostly distinct identifiers kept in Arrow goes through the
    vectorized normalizer row by row: the same values as the per-distinct path,
    with non-ASCII, invalid, repeated and missing values among them."""
    values = [make(i) for i in range(6000)]
    odd = ["ÉLODIE@exemple.fr", "not an identifier", None, "", "  ", "+1 (800) FLOWERS"]
    for position, value in enumerate(odd * 3):  # repeated: decided once per value
        values[position * 300] = value
    function = identifier_normalizer(kind, normalizer, None, "US")
    fast = identifier_fast_path(normalizer, "US")
    arrow = pd.Series(values, dtype="str")
    assert _arrow_distinct(arrow)  # the row-by-row path is the one tested
    objects = pd.Series(values, dtype="object")
    got = map_distinct(arrow, function, fast)
    expected = map_distinct(objects, function, fast)
    # Identifiers come back in Arrow either way: no Python string per row.
    assert got.dtype == "str" and expected.dtype == "str"
    got, expected = got.astype(object), expected.astype(object)
    assert got.where(got.notna(), None).tolist() == expected.where(expected.notna(), None).tolist()


# Text Arrow can hold: no lone surrogates.
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(_TEXT, st.sampled_from(["gmail.com", "googlemail.com", "x.com", ""])).map(
            lambda pair: f"{pair[0]}@{pair[1]}" if pair[1] else pair[0]
        ),
        max_size=20,
    ),
    st.sampled_from(["plain", "google", "meta"]),
)
def test_profile_in_arrow_is_the_profile_of_each_value(values, profile):
    applied = apply_profile("email", pa.array(values, pa.large_string()), profile)
    assert applied.to_pylist() == [apply_email_profile(value, profile) for value in values]
    applied = apply_profile("phone", pa.array(values, pa.string()), profile)
    assert applied.to_pylist() == [apply_phone_profile(value, profile) for value in values]


@pytest.mark.parametrize("profile", ["plain", "google", "meta"])
def test_profile_applied_to_many_values_as_to_each(profile):
    emails = ["a.b+x@gmail.com", "a.b+x@example.com", "x.y@googlemail.com"]
    emails += ["q@notgmail.com", "z@sub.gmail.com", "p.q@GMAIL.com", "plain@gmail.com"]
    # Several ``+``, a line break in the suffix, non-ASCII, an ``@`` in the local part.
    emails += ["a+b+c.d@gmail.com", "é.x+\ny@gmail.com", "a@b.c@gmail.com", "+@gmail.com"]
    phones = ["+12125550100", "+447911123456", "12125550100", "++12125550100"]
    for kind, values, apply in (
        ("email", emails, apply_email_profile),
        ("phone", phones, apply_phone_profile),
    ):
        for text_type in (pa.string(), pa.large_string()):
            applied = apply_profile(kind, pa.array(values, text_type), profile)
            assert applied.to_pylist() == [apply(value, profile) for value in values]
    if profile == "google":  # something changed, so the comparison means something
        assert apply_profile("email", pa.array(emails), profile)[0].as_py() == "ab@gmail.com"
