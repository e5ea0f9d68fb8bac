"""prefsync_audit.resolve on integer codes: what the fast paths must keep exact."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from prefsync_audit.config import IdentityConfig
from prefsync_audit.resolve import (
    _RE2_READS_AS_PYTHON,
    _RE2_SPELLINGS,
    DEFAULT_PLACEHOLDERS,
    _arrow_strings,
    _families,
    _link_codes,
    hashed_unmatched,
    identifier_links,
    resolve_identities,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def records(rows: list[dict]) -> pd.DataFrame:
    columns = sorted({c for row in rows for c in row})
    frame = pd.DataFrame(rows, columns=columns, dtype="object")
    frame = frame.where(frame.notna(), None)
    frame.insert(0, "record_key", range(len(frame)))
    return frame


def resolve(rows, profiles=None, **identity):
    return resolve_identities(records(rows), IdentityConfig(**identity), profiles or {})


def ignored_values(resolution) -> list[str]:
    return sorted(resolution.ignored_values["value"])


ASCII_IDS = ["C1", "c2", "x9", "A-1", "0", "000", "n/a", "NULL", "test", "ab.c", "K7", "k_7", ""]
# Non-ASCII digits and letters, and a line break: Python's ``re`` reads ``\d``, case
# and ``$`` differently there than RE2 would.
OTHER_IDS = [*ASCII_IDS, "C٣", "İd", "ſ1", "\u212a7", "end\n", "Ñ0"]


@pytest.mark.parametrize(
    "pattern",
    [
        r"\d$",
        r"^[a-c]",
        r"k",
        r"^(0+|null|test)$",
        r"\w\.\w",
        r"^.{2}$",
        r"^$",
        r"d$",
        r"(\w)\1",
        r"(?i)s1",
        r"^(?!c)",
        r"\bA",
        r"[^a-z0-9]",
    ],
)
@pytest.mark.parametrize("values", [ASCII_IDS, OTHER_IDS], ids=["ascii", "unicode"])
def test_placeholder_patterns_match_as_pythons_re(pattern, values):
    resolution = resolve(
        [{"customer_id": v} for v in values],
        ignore={"customer_id": [f"re:{pattern}"]},
        use_default_ignore=False,
    )
    expected = sorted(v for v in values if re.search(pattern, v, re.IGNORECASE))
    assert ignored_values(resolution) == expected


def test_default_phone_placeholders_match_as_pythons_re():
    phones = [
        "+10000000000",
        "+11111111111",
        "+12222222223",
        "+1222222222",
        "+2222222",
        "+22222222",
        "+122222222",
        "+0000000",
        "+7777777777777",
        "+1234567890",
        "1234567890",
        "+12025550100",
        "+442071234567",
    ]
    resolution = resolve([{"phone": p} for p in phones])
    patterns = [p[3:] for p in DEFAULT_PLACEHOLDERS["phone"]]
    expected = [p for p in phones if any(re.search(r, p, re.IGNORECASE) for r in patterns)]
    assert ignored_values(resolution) == sorted(expected)


def test_re2_spellings_are_the_default_patterns():
    defaults = {p[3:] for values in DEFAULT_PLACEHOLDERS.values() for p in values}
    assert set(_RE2_SPELLINGS) <= defaults
    texts = [
        f"+{lead}{digit * n}" for lead in ("", "1", "12") for digit in "029" for n in range(13)
    ]
    texts += [text + "3" for text in texts]
    for pattern, spelled in _RE2_SPELLINGS.items():
        assert _RE2_READS_AS_PYTHON.fullmatch(spelled)
        for text in texts:
            assert bool(re.search(pattern, text)) == bool(re.search(spelled, text)), text


@pytest.mark.parametrize(
    ("pattern", "re2"),
    [
        (r"^(no-?e?mail|none)@", True),
        (r"@(test|example)\.(com|org)$", True),
        (r"^\+?1234567890$", True),
        (r"[a-c]+@x\.com", True),
        (r"a{2,}?", True),
        (r"(a)\1", False),  # a backreference
        (r"(?i)a", False),  # an inline flag
        (r"(?=a)", False),  # a lookaround
        (r"a*+", False),  # possessive in Python 3.11, an error in RE2
        (r"\s", False),  # Python's \s also matches \x1c-\x1f
        (r"[[:alpha:]]", False),  # a POSIX class to RE2, a set of characters to Python
        (r"a{,3}", False),  # {0,3} to Python, literal to RE2
        (r"é", False),
    ],
)
def test_which_patterns_re2_reads_as_python(pattern, re2):
    assert bool(pattern.isascii() and _RE2_READS_AS_PYTHON.fullmatch(pattern)) is re2


def test_hashes_that_coincide_are_one_value():
    # Meta drops the "+": both spellings hash alike, and the hash is a placeholder.
    rows = [{"phone": "+1234567890"}, {"phone": "1234567890"}, {"phone": "+12025550100"}]
    resolution = resolve(rows, {"phone": {"meta"}})
    ignored = resolution.ignored_values
    hashed = ignored[ignored["kind"] == "phone_sha256"]
    assert hashed[["value", "records"]].values.tolist() == [[sha("1234567890"), 2]]


def test_a_value_held_twice_by_a_record_counts_once():
    rows = [
        {"email": "a@x.com", "email#2": "a@x.com"},
        {"email": "a@x.com", "email_sha256": sha("a@x.com")},
        {"email": "b@x.com", "email#2": "a@x.com"},
    ]
    resolution = resolve(rows, {"email": {"plain"}}, max_records_per_value=2)
    assert resolution.ignored_values[["kind", "records"]].values.tolist() == [
        ["email", 3],
        ["email_sha256", 3],
    ]
    links = identifier_links(records(rows), ["email", "email_sha256"], {"email": {"plain"}})
    assert len(links) == len(links.drop_duplicates()) == 8


def test_identifier_links_of_a_repeated_column_alone():
    frame = records([{"email#2": "a@x.com"}, {"email#2": None}])
    links = identifier_links(frame, ["email"], {})
    assert links.values.tolist() == [[0, "email", "a@x.com"]]


def test_placeholder_and_real_anchors_of_one_kind_are_ordered_together():
    # "0" anchors its person only in the placeholder pass, yet sorts before "C1".
    resolution = resolve([{"customer_id": "C1"}, {"customer_id": "0"}, {"customer_id": "0"}])
    assert resolution.anchors.values.tolist() == [
        [1, "customer_id", "0"],
        [2, "customer_id", "0"],
        [3, "customer_id", "C1"],
    ]
    assert resolution.person_of_record.tolist() == [3, 1, 2]


def test_anchor_is_the_smallest_value_by_code_point():
    rows = [
        {"email": "b@x.com", "phone": "+12025550100"},
        {"email": "B@x.com", "phone": "+12025550100"},
        {"email": "é@x.com", "phone": "+12025550100"},
        {"email": "Z@x.com"},
    ]
    resolution = resolve(rows)
    assert resolution.anchors["anchor_value"].tolist() == ["B@x.com", "Z@x.com"]


def test_hashed_unmatched_counts_persons_in_one_system():
    frame = pd.DataFrame(
        {
            "record_key": range(6),
            "system": pd.Categorical(["ads", "crm", "ads", "ads", None, "shop"]),
            "email_sha256": [sha("a"), None, sha("b"), None, sha("c"), sha("d")],
        }
    )
    person = pd.Series([7, 7, 8, 8, 9, 10])
    summary = hashed_unmatched(frame, person)
    # Person 7 is in two systems; 8 only in ads; 9's record names no system.
    assert summary.to_dict("records") == [
        {"system": "ads", "hashed_records": 2, "unmatched": 1},
        {"system": "shop", "hashed_records": 1, "unmatched": 1},
    ]


@pytest.mark.parametrize(
    "values",
    [
        [sha(f"u{i % 7}@x.com") for i in range(50)],
        ["b", "a", "b", "é", "a", "𝒳", "b"],
        ["a", None, "a"],  # not all text: pandas' own hashing
        ["ok", "\udc80", "ok"],  # a lone surrogate cannot go to Arrow
        [],
    ],
)
def test_text_factorized_in_arrow_as_pandas_factorizes_it(values):
    from prefsync_audit.resolve import _factorize_text

    array = np.array(values, dtype=object)
    expected_codes, expected_distinct = pd.factorize(array)
    # Whole, and split in two parts of which the second came as Arrow strings
    # where it can be one.
    half = len(values) // 2
    try:
        second = pa.array(values[half:], pa.large_string())
    except (pa.ArrowException, UnicodeError):
        second = array[half:]
    for parts in ([array], [array[:half], second]):
        codes, distinct = _factorize_text(parts)
        assert codes.tolist() == expected_codes.tolist()
        all_text = all(isinstance(value, str) for value in values) and "\udc80" not in values
        if all_text and values:
            assert distinct.to_pylist() == list(expected_distinct)
        else:
            assert isinstance(distinct, np.ndarray)
            assert list(distinct) == list(expected_distinct)


def test_values_kept_in_arrow_are_the_kinds_values():
    """A kind's values as Arrow strings, kept from its column where they came so
    or from hashing them in Arrow, are its values in code order."""
    frame = records(
        [
            {"email": "b@gmail.com", "email_sha256": sha("zz@x.com"), "customer_id": "C2"},
            {"email": "a.b@gmail.com", "customer_id": "C1"},
            {"email_sha256": sha("b@gmail.com"), "customer_id": "C2"},
        ]
    )
    for column in ("email", "email_sha256", "customer_id"):
        frame[column] = frame[column].astype("str")
    kinds = ["customer_id", "email", "email_sha256"]
    values = _link_codes(frame, kinds, {"email": {"google"}}).values
    assert [type(distinct) for distinct in values.distinct] == [pa.LargeStringArray] * 3
    for kind in kinds:
        start, stop = values.span(kind)
        as_objects = values.value_of(np.arange(start, stop))
        assert values.strings(kind).equals(_arrow_strings(as_objects))
        assert list(values.objects(kind)) == list(as_objects)
    # Two held hashes (one of them also b@gmail.com's), and that of ab@gmail.com.
    assert values.span("email_sha256")[1] - values.span("email_sha256")[0] == 3


def test_present_values_coded_in_arrow_as_pandas_factorizes_them():
    from prefsync_audit.resolve import _present_in_arrow

    # Two chunks (as concatenated files give), missing values, an empty string.
    first = pd.Series(["b", None, "a", "b", "", None], dtype="str")
    column = pd.concat([first, pd.Series([None, "c", "a"], dtype="str")], ignore_index=True)
    rows, codes, distinct = _present_in_arrow(column)
    expected_codes, expected_distinct = pd.factorize(column)
    assert rows.tolist() == np.flatnonzero(expected_codes >= 0).tolist()
    assert codes.tolist() == expected_codes[expected_codes >= 0].tolist()
    assert distinct.to_pylist() == list(expected_distinct)
    assert _present_in_arrow(pd.Series(["a"], dtype=object)) is None
    empty = _present_in_arrow(pd.Series([], dtype="str"))
    assert len(empty[0]) == len(empty[1]) == len(empty[2]) == 0


def test_dense_codes_are_person_ids_or_factorized():
    from prefsync_audit.resolve import _dense_codes

    ids = np.array([3, 1, 3, 2])
    codes, n = _dense_codes(ids)
    assert codes is ids and n == 4
    codes, n = _dense_codes(np.array([10**9, 5, 10**9]))  # too sparse for a table
    assert codes.tolist() == [0, 1, 0] and n == 2
    codes, n = _dense_codes(np.array(["b", "a", "b"], dtype=object))
    assert codes.tolist() == [0, 1, 0] and n == 2


@pytest.mark.parametrize("hashed_in_parts_from", [1 << 18, 2])
def test_kinds_numbered_on_several_workers_resolve_as_on_one(monkeypatch, hashed_in_parts_from):
    """Each kind's values numbered on a worker of its own: the same persons, anchors,
    left-out values and conflicts as one after the other, with Arrow and object
    columns, a repeated column, held and derived hashes and a placeholder; and
    with every kind's hashes worked out in parts (one per worker)."""
    import prefsync_audit.resolve as resolve

    monkeypatch.setattr(resolve, "HASHED_IN_PARTS_FROM", hashed_in_parts_from)
    rows = []
    for i in range(300):
        row = {"customer_id": f"C{i % 120}", "email": f"P.{i % 90}@Gmail.com".lower()}
        if i % 3 == 0:
            row["phone"] = f"+1555{i % 70:07d}"
        if i % 5 == 0:
            row["email_sha256"] = sha(f"p{(i + 1) % 90}@gmail.com")
        if i % 7 == 0:
            row["email#2"] = "test@test.com"
        rows.append(row)
    frame = records(rows)
    for column in ("customer_id", "email_sha256"):
        frame[column] = frame[column].astype("str")
    identity = IdentityConfig(strong_keys=["customer_id"])
    profiles = {"email": {"google", "plain"}}
    one = resolve_identities(frame, identity, profiles, workers=1)
    several = resolve_identities(frame, identity, profiles, workers=3)
    pd.testing.assert_series_equal(one.person_of_record, several.person_of_record)
    for part in ("anchors", "ignored_values", "conflicts", "hashed_unmatched"):
        pd.testing.assert_frame_equal(getattr(one, part), getattr(several, part))
    assert one.person_of_record.nunique() < 120
    assert "test@test.com" in set(one.ignored_values["value"])
    assert len(one.conflicts)


def test_a_kind_and_its_hashes_are_numbered_together_whatever_runs_first():
    # The email family (email, email_sha256) is worked out on one worker, the
    # largest family first; the values stay numbered in the order of the kinds,
    # a hashed kind no column holds (phone_sha256) after them.
    assert _families(["customer_id", "email", "phone", "email_sha256"]) == [
        ["customer_id"],
        ["email", "email_sha256"],
        ["phone"],
    ]
    rows = [
        {"customer_id": "C1", "email": "a@x.com", "phone": "+15550000001"},
        {"email": "a@x.com", "email_sha256": sha("a@x.com")},
        {"email": "b@x.com", "email_sha256": sha("b@x.com")},
        {"customer_id": "C2", "phone": "+15550000002"},
        {"email_sha256": sha("c@x.com")},
    ]
    frame = records(rows)
    profiles = {"email": {"plain"}, "phone": {"plain"}}
    kinds = ["customer_id", "email", "phone", "email_sha256"]
    one, several = (_link_codes(frame, kinds, profiles, workers) for workers in (1, 2))
    for links in (one, several):
        assert links.values.kinds == [*kinds, "phone_sha256"]
    assert one.values.starts.tolist() == several.values.starts.tolist() == [0, 2, 4, 6, 9, 11]
    for kind in ("email_sha256", "phone_sha256"):
        assert one.values.strings(kind).equals(several.values.strings(kind))
    # The held hash of a@x.com and the one derived from it are one value.
    assert one.values.objects("email_sha256").tolist() == [
        sha(v) for v in ("a@x.com", "b@x.com", "c@x.com")
    ]
