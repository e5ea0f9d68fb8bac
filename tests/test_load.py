"""prefsync_audit.load: reading exports as text, with provenance and bad rows."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefsync_audit.errors import InputError
from prefsync_audit.load import ROW, detect_format, load_file, resolve_paths


def load(path, mapping):
    return load_file(path, mapping, "crm", path)


def rows(table):
    return table.frame.to_dict("records")


def bad(table):
    return table.bad_rows.to_dict("records")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_csv_with_and_without_bom(tmp_path, make_mapping, bom):
    path = tmp_path / "crm.csv"
    path.write_bytes(bom + "Email,Name\na@x.com,Zoë\nb@x.com,\n".encode())
    table = load(path, make_mapping())
    assert list(table.frame.columns) == [ROW, "Email", "Name"]
    assert rows(table) == [
        {ROW: 1, "Email": "a@x.com", "Name": "Zoë"},
        {ROW: 2, "Email": "b@x.com", "Name": None},
    ]
    assert table.rows_read == 2
    assert table.bad_rows.empty
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert table.system == "crm"


def test_bom_before_a_quoted_header_and_a_ragged_row(tmp_path, make_mapping):
    # The byte-order mark stays in the bytes (no copy of the file): the header
    # is read after it, and Arrow skips it, so names and row numbers are as without.
    path = tmp_path / "crm.csv"
    path.write_bytes(
        b'\xef\xbb\xbf"Email","Name"\na@x.com,Zo\xc3\xab\nb@x.com,B,extra\nc@x.com,C\n'
    )
    table = load(path, make_mapping())
    assert list(table.frame.columns) == [ROW, "Email", "Name"]
    assert rows(table) == [
        {ROW: 1, "Email": "a@x.com", "Name": "Zoë"},
        {ROW: 3, "Email": "c@x.com", "Name": "C"},
    ]
    assert bad(table) == [{ROW: 2, "reason": "expected 2 columns, found 3"}]


def test_bom_then_undecodable_header_names_line_1(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_bytes(b"\xef\xbb\xbfEmail,N\xe9m\na@x.com,x\n")
    with pytest.raises(InputError, match=r"crm.csv: line 1: byte 0xe9 cannot be decoded as utf-8"):
        load(path, make_mapping())


def test_every_value_stays_text(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Zip,Flag,When\na@x.com,02134,TRUE,2024-01-01\n")
    assert rows(load(path, make_mapping())) == [
        {ROW: 1, "Email": "a@x.com", "Zip": "02134", "Flag": "TRUE", "When": "2024-01-01"}
    ]


def test_latin1(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_bytes("Email,Name\na@x.com,José Müller\n".encode("latin-1"))
    table = load(path, make_mapping(csv={"encoding": "latin-1"}))
    assert rows(table) == [{ROW: 1, "Email": "a@x.com", "Name": "José Müller"}]


def test_wrong_encoding_is_an_input_error(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_bytes("Email,Name\na@x.com,José\n".encode("latin-1"))
    with pytest.raises(
        InputError,
        match=r"crm\.csv: line 2: byte 0xe9 cannot be decoded as utf-8; set csv\.encoding",
    ):
        load(path, make_mapping())


def test_tsv(tmp_path, make_mapping):
    path = tmp_path / "crm.tsv"
    path.write_text("Email\tNote\na@x.com\tone, two\n")
    assert rows(load(path, make_mapping())) == [{ROW: 1, "Email": "a@x.com", "Note": "one, two"}]


def test_custom_delimiter_and_quotechar(tmp_path, make_mapping):
    path = tmp_path / "crm.txt"
    path.write_text("Email;Note\na@x.com;'semi; colon'\nb@x.com;\"plain\"\n")
    table = load(path, make_mapping(csv={"delimiter": ";", "quotechar": "'"}))
    assert rows(table) == [
        {ROW: 1, "Email": "a@x.com", "Note": "semi; colon"},
        {ROW: 2, "Email": "b@x.com", "Note": '"plain"'},
    ]


def test_gzipped_csv(tmp_path, make_mapping):
    path = tmp_path / "crm.csv.gz"
    path.write_bytes(gzip.compress(b"Email,N\na@x.com,1\nb@x.com,2\n"))
    table = load(path, make_mapping())
    assert rows(table) == [
        {ROW: 1, "Email": "a@x.com", "N": "1"},
        {ROW: 2, "Email": "b@x.com", "N": "2"},
    ]
    # The digest is of the file as stored, so it matches `sha256sum`.
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_broken_gzip(tmp_path, make_mapping):
    path = tmp_path / "crm.csv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="not a valid gzip file"):
        load(path, make_mapping())


def test_ragged_rows_are_bad_rows_with_data_row_numbers(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text(
        "Email,Note,N\n"
        'a@x.com,"multi\nline\nnote",1\n'  # data row 1 over three lines
        "b@x.com,2\n"  # data row 2: too few
        "c@x.com,ok,3\n"  # data row 3
        "d@x.com,too,many,4\n"  # data row 4: too many
        "e@x.com,fine,5\n"  # data row 5
    )
    table = load(path, make_mapping())
    assert bad(table) == [
        {ROW: 2, "reason": "expected 3 columns, found 2"},
        {ROW: 4, "reason": "expected 3 columns, found 4"},
    ]
    assert table.frame[ROW].tolist() == [1, 3, 5]
    assert table.frame["Email"].tolist() == ["a@x.com", "c@x.com", "e@x.com"]
    assert table.frame["Note"].tolist() == ["multi\nline\nnote", "ok", "fine"]
    assert table.rows_read == 5


@pytest.mark.parametrize("content", [b"", b"\n", b"\xef\xbb\xbf", b",,\n"])
def test_empty_file_is_an_input_error(tmp_path, make_mapping, content):
    path = tmp_path / "crm.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"crm\.csv: empty file \(no header row\)"):
        load(path, make_mapping())


def test_header_only_file_has_no_rows(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Name\n")
    table = load(path, make_mapping())
    assert table.rows_read == 0
    assert list(table.frame.columns) == [ROW, "Email", "Name"]


def test_duplicate_header_names(tmp_path, make_mapping):
    path = tmp_path / "audience.csv"
    path.write_text("Email,Email,Phone,Email\na@x.com,b@x.com,1,c@x.com\n")
    table = load(path, make_mapping())
    assert list(table.frame.columns) == [ROW, "Email", "Email#2", "Phone", "Email#3"]
    assert rows(table)[0]["Email#2"] == "b@x.com"
    assert rows(table)[0]["Email#3"] == "c@x.com"


def test_json_array_with_nested_fields(tmp_path, make_mapping):
    path = tmp_path / "cdp.json"
    path.write_text(
        json.dumps(
            [
                {"id": 7, "traits": {"email": "a@x.com", "opt": True}, "lists": [1, 2]},
                {"id": 8, "traits": {"email": None}},
                "not an object",
            ]
        )
    )
    table = load(path, make_mapping())
    assert rows(table) == [
        {ROW: 1, "id": "7", "traits.email": "a@x.com", "traits.opt": "true", "lists": "[1, 2]"},
        {ROW: 2, "id": "8", "traits.email": None, "traits.opt": None, "lists": None},
    ]
    assert bad(table) == [{ROW: 3, "reason": "record is not a JSON object"}]
    assert table.rows_read == 3


def test_json_records_path(tmp_path, make_mapping):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"data": {"members": [{"Email": "a@x.com"}, {"Email": "b"}]}}))
    table = load(path, make_mapping(json={"records_path": "data.members"}))
    assert rows(table) == [{ROW: 1, "Email": "a@x.com"}, {ROW: 2, "Email": "b"}]


@pytest.mark.parametrize(
    ("document", "records_path", "message"),
    [
        ({"members": []}, None, "expected a JSON array of records at the top level"),
        (
            {"data": {"members": {}}},
            "data.members",
            "expected a JSON array of records at 'data.members'",
        ),
        ({"data": []}, "data.members", "no records at JSON path 'data.members'"),
    ],
)
def test_json_not_an_array(tmp_path, make_mapping, document, records_path, message):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=message):
        load(path, make_mapping(json={"records_path": records_path}))


def test_invalid_json_names_the_line(tmp_path, make_mapping):
    path = tmp_path / "export.json"
    path.write_text('[\n{"Email": "a@x.com"},\n{oops}\n]')
    with pytest.raises(InputError, match=r"export\.json:3: invalid JSON"):
        load(path, make_mapping())


def test_jsonl_with_a_bad_line(tmp_path, make_mapping):
    path = tmp_path / "events.jsonl"
    path.write_text('{"Email": "a@x.com"}\n{not json\n[1, 2]\n{"Email": "d@x.com", "n": 4}\n')
    table = load(path, make_mapping())
    assert rows(table) == [
        {ROW: 1, "Email": "a@x.com", "n": None},
        {ROW: 4, "Email": "d@x.com", "n": "4"},
    ]
    assert [r[ROW] for r in bad(table)] == [2, 3]
    assert bad(table)[0]["reason"].startswith("invalid JSON")
    assert bad(table)[1]["reason"] == "record is not a JSON object"
    assert table.rows_read == 4


def test_ndjson_gz(tmp_path, make_mapping):
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"Email": "a@x.com"}\n{"Email": "b@x.com"}\n'))
    assert load(path, make_mapping()).frame["Email"].tolist() == ["a@x.com", "b@x.com"]


def test_parquet_with_timestamp_list_and_struct(tmp_path, make_mapping):
    path = tmp_path / "audience.parquet"
    pq.write_table(
        pa.table(
            {
                "Email": ["a@x.com", None],
                "changed": pa.array(
                    [datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")
                ),
                "lists": pa.array([["news", "promo"], []], pa.list_(pa.string())),
                "count": pa.array([1, 2], pa.int64()),
                "traits": pa.array([{"vip": True}, {"vip": False}]),
            }
        ),
        path,
    )
    table = load(path, make_mapping())
    assert rows(table) == [
        {
            ROW: 1,
            "Email": "a@x.com",
            "changed": "2024-01-02 03:04:05.000000Z",
            "lists": '["news", "promo"]',
            "count": "1",
            "traits.vip": "true",
        },
        {
            ROW: 2,
            "Email": None,
            "changed": None,
            "lists": "[]",
            "count": "2",
            "traits.vip": "false",
        },
    ]
    assert table.rows_read == 2


def test_broken_parquet(tmp_path, make_mapping):
    path = tmp_path / "audience.parquet"
    path.write_bytes(b"PAR1 nope")
    with pytest.raises(InputError, match="cannot read Parquet"):
        load(path, make_mapping())


def test_file_name_fields(tmp_path, make_mapping):
    mapping = make_mapping(
        file_name_fields={"status": r"members_([a-z]+)_\d+", "other": r"nomatch_(\w+)"}
    )
    path = tmp_path / "members_unsubscribed_2024.csv"
    path.write_text("Email\na@x.com\nb@x.com\n")
    table = load(path, mapping)
    assert table.frame["status"].tolist() == ["unsubscribed", "unsubscribed"]
    assert table.frame["other"].isna().all()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.CSV", "csv"),
        ("a.tsv", "tsv"),
        ("a.json", "json"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.csv.gz", "csv"),
        ("a.json.gz", "json"),
    ],
)
def test_detect_format(tmp_path, make_mapping, name, fmt):
    assert detect_format(tmp_path / name, make_mapping()) == fmt


def test_detect_format_unknown_and_explicit(tmp_path, make_mapping):
    with pytest.raises(InputError, match="cannot tell the file format"):
        detect_format(tmp_path / "export.dat", make_mapping())
    assert detect_format(tmp_path / "export.dat", make_mapping(format="jsonl")) == "jsonl"


def test_explicit_format_overrides_extension(tmp_path, make_mapping):
    path = tmp_path / "export.dat"
    path.write_text("Email|N\na@x.com|1\n")
    table = load(path, make_mapping(format="csv", csv={"delimiter": "|"}))
    assert rows(table) == [{ROW: 1, "Email": "a@x.com", "N": "1"}]


def test_resolve_paths_globs_directories_and_files(tmp_path):
    (tmp_path / "b.csv").write_text("x\n")
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "notes.txt").write_text("x\n")
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "2.json").write_text("[]")
    (folder / "1.json").write_text("[]")
    (folder / "sub").mkdir()
    found = resolve_paths(["*.csv", "daily", "a.csv", "notes.txt"], tmp_path, "crm")
    assert found == [
        tmp_path / "a.csv",
        tmp_path / "b.csv",
        folder / "1.json",
        folder / "2.json",
        tmp_path / "notes.txt",
    ]


def test_resolve_paths_recursive_glob(tmp_path):
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "deep.csv").write_text("x\n")
    assert resolve_paths(["**/*.csv"], tmp_path, "crm") == [tmp_path / "x" / "y" / "deep.csv"]


def test_resolve_paths_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: export file not found \(systems\.crm"):
        resolve_paths(["nope.csv"], tmp_path, "crm")


def test_resolve_paths_glob_without_match(tmp_path):
    with pytest.raises(InputError, match=r"systems\.crm\.paths: no file matches '\*\.csv'"):
        resolve_paths(["*.csv"], tmp_path, "crm")


def test_load_missing_file(tmp_path, make_mapping):
    with pytest.raises(InputError, match=r"gone\.csv: cannot read"):
        load(tmp_path / "gone.csv", make_mapping())


def test_bad_row_numbers_across_read_blocks(tmp_path, make_mapping):
    # Larger than pyarrow's 4 MiB block, so the reader's re-read in one thread matters.
    lines = ["Email,Note"] + [f"user{i}@example.com,{'x' * 30}" for i in range(150_000)]
    lines[11] = 'q@x.com,"two\nlines"'  # data row 11
    lines[140_001] = "bad@x.com,a,b"  # data row 140001
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    table = load(path, make_mapping())
    assert bad(table) == [{ROW: 140_001, "reason": "expected 2 columns, found 3"}]
    assert table.rows_read == 150_000
    around = table.frame[table.frame[ROW].between(140_000, 140_002)]
    assert around["Email"].tolist() == ["user139999@example.com", "user140001@example.com"]
    assert table.frame.loc[table.frame[ROW] == 11, "Note"].tolist() == ["two\nlines"]


# --- Hostile and broken input at the loader (the CLI-level cases are in test_corpus.py) ---


def test_a_stray_quote_inside_a_value_is_text(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text('Email,Note\na@x.com,tr"ue\nb@x.com,ok\n')
    table = load(path, make_mapping())
    assert table.frame["Note"].tolist() == ['tr"ue', "ok"]
    assert table.bad_rows.empty


def test_escaped_quotes_and_quoted_newlines_are_not_unterminated(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text('Email,Note\na@x.com,"say ""hi""\nthere"\nb@x.com,"a,b"""\n')
    table = load(path, make_mapping())
    assert table.frame["Note"].tolist() == ['say "hi"\nthere', 'a,b"']


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("Email,Note\na@x.com,one\r\nb@x.com,two\n", False),
        ('Email,Note\na@x.com,"one\nline"\nb@x.com,two\n', True),
    ],
)
def test_only_a_file_with_quotes_is_read_for_line_breaks_in_values(
    tmp_path, make_mapping, monkeypatch, text, quoted
):
    # Without a quote character no value can hold a line break: Arrow may then
    # split the file at line ends, which is faster; the rows are the same.
    import prefsync_audit._delimited as delimited

    seen = []
    options = delimited.pa_csv.ParseOptions

    def recording(**kwargs):
        seen.append(kwargs["newlines_in_values"])
        return options(**kwargs)

    monkeypatch.setattr(delimited.pa_csv, "ParseOptions", recording)
    path = tmp_path / "crm.csv"
    path.write_bytes(text.encode())
    table = load(path, make_mapping())
    assert seen == [quoted]
    assert table.frame["Note"].tolist() == (["one\nline", "two"] if quoted else ["one", "two"])


def test_unterminated_quote_names_the_line_it_opens_on(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text('Email,Note\na@x.com,ok\nb@x.com,x"y\nc@x.com,"open\nd@x.com,z\n')
    with pytest.raises(InputError, match=r"crm\.csv: line 4: a quoted field opens here"):
        load(path, make_mapping())


def test_unterminated_quote_in_a_tsv(tmp_path, make_mapping):
    path = tmp_path / "crm.tsv"
    path.write_text('Email\tNote\na@x.com\t"open\nb@x.com\tz\n')
    with pytest.raises(InputError, match=r"crm\.tsv: line 2: a quoted field opens here"):
        load(path, make_mapping())


def test_a_long_field_under_the_limit_is_read(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Note\na@x.com," + "n" * 200_000 + "\n")
    table = load(path, make_mapping())
    assert len(table.frame.loc[0, "Note"]) == 200_000
    assert table.bad_rows.empty


def test_long_and_nul_values_are_bad_rows_with_data_row_numbers(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    lines = ["Email,Note", "a@x.com,1", "b@x.com,2,extra", "c@x.com," + "x" * 300_000]
    lines += ["d@x.com,n\x00ul", "e@x.com,5"]
    path.write_text("\n".join(lines) + "\n")
    table = load(path, make_mapping())
    assert bad(table) == [
        {ROW: 2, "reason": "expected 2 columns, found 3"},
        {ROW: 3, "reason": "a value is longer than 262144 bytes"},
        {ROW: 4, "reason": "a value holds a NUL byte"},
    ]
    assert table.frame[ROW].tolist() == [1, 5]
    assert table.rows_read == 5


def test_old_mac_line_endings(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_bytes(b"Email,N\ra@x.com,1\rb@x.com,2\r")
    assert rows(load(path, make_mapping())) == [
        {ROW: 1, "Email": "a@x.com", "N": "1"},
        {ROW: 2, "Email": "b@x.com", "N": "2"},
    ]


def test_header_longer_than_the_first_read_block(tmp_path, make_mapping):
    names = ["Email"] + [f"column_with_a_long_name_{i:05d}" for i in range(5000)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["a@x.com"] + ["v"] * 5000) + "\n")
    table = load(path, make_mapping())
    assert list(table.frame.columns) == [ROW, *names]
    assert table.bad_rows.empty


def test_equal_values_share_one_object(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Flag\n" + "".join(f"u{i}@x.com,true\n" for i in range(1000)))
    flags = load(path, make_mapping()).frame["Flag"]
    assert len({id(value) for value in flags}) == 1


def test_json_in_utf16_is_read(tmp_path, make_mapping):
    path = tmp_path / "cdp.json"
    path.write_bytes(json.dumps([{"Email": "a@x.com"}]).encode("utf-16"))
    assert rows(load(path, make_mapping())) == [{ROW: 1, "Email": "a@x.com"}]


def test_json_values_with_nul_or_past_the_limit_are_bad_rows(tmp_path, make_mapping):
    path = tmp_path / "events.jsonl"
    records = [
        {"Email": "a@x.com"},
        {"Email": "b\u0000@x.com"},
        {"Email": "c@x.com", "n": "x" * 300_000},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    table = load(path, make_mapping())
    assert bad(table) == [
        {ROW: 2, "reason": "a value holds a NUL byte"},
        {ROW: 3, "reason": "a value is longer than 262144 bytes"},
    ]


def test_exploded_array_nested_too_deeply_is_a_bad_row(tmp_path, make_mapping):
    path = tmp_path / "profiles.jsonl"
    deep = "[" * 3000 + "]" * 3000
    lines = [
        json.dumps({"Email": "a@x.com", "subs": "[1]"}),
        json.dumps({"Email": "b", "subs": deep}),
    ]
    path.write_text("\n".join(lines) + "\n")
    table = load(path, make_mapping(explode="subs"))
    assert bad(table) == [{ROW: 2, "reason": "subs is not a JSON array"}]


def test_exploded_element_with_a_lone_surrogate_or_nul_escape_is_a_bad_row(tmp_path, make_mapping):
    # The CSV cell is clean text; its JSON escapes are not.
    path = tmp_path / "profiles.csv"
    path.write_text(
        "Email,subs\n"
        'a@x.com,"[""news""]"\n'
        'b@x.com,"[""n\\udc80""]"\n'
        'c@x.com,"[{""t"": ""\\u0000""}]"\n'
    )
    table = load(path, make_mapping(explode="subs"))
    assert bad(table) == [
        {ROW: 2, "reason": "a value holds an unpaired surrogate escape (not Unicode text)"},
        {ROW: 3, "reason": "a value holds a NUL byte"},
    ]
    assert table.frame["subs"].tolist() == ["news"]


def test_gzipped_member_of_a_zip(tmp_path, make_mapping):
    import zipfile

    archive = tmp_path / "audience.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("members.csv.gz", gzip.compress(b"Email\na@x.com\n"))
    (member,) = resolve_paths(["audience.zip"], tmp_path, "crm")
    assert rows(load(member, make_mapping())) == [{ROW: 1, "Email": "a@x.com"}]


def test_multi_member_gzip_is_read_whole(tmp_path, make_mapping):
    path = tmp_path / "crm.csv.gz"
    path.write_bytes(gzip.compress(b"Email\na@x.com\n") + gzip.compress(b"b@x.com\n"))
    assert load(path, make_mapping()).frame["Email"].tolist() == ["a@x.com", "b@x.com"]


def test_parquet_with_binary_text_and_duplicate_names(tmp_path, make_mapping):
    path = tmp_path / "audience.parquet"
    table = pa.Table.from_arrays(
        [pa.array([b"a@x.com"], pa.binary()), pa.array(["x"]), pa.array(["y"])],
        names=["Email", "Note", "Note"],
    )
    pq.write_table(table, path)
    assert rows(load(path, make_mapping())) == [
        {ROW: 1, "Email": "a@x.com", "Note": "x", "Note#2": "y"}
    ]


def test_resolve_paths_absolute_glob_and_empty_path(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    assert resolve_paths([str(tmp_path / "*.csv")], tmp_path / "elsewhere", "crm") == [
        tmp_path / "a.csv"
    ]
    with pytest.raises(InputError, match=r"systems\.crm\.paths: an empty path"):
        resolve_paths([" "], tmp_path, "crm")


SCANNED = {
    "bom and a ragged row": b'\xef\xbb\xbf"Email",N\na@x.com,1\nb@x.com\nc@x.com,3\n',
    "nul and quoted newline": b'Email,Note\na@x.com,"two\nlines"\nb@x.com,x\x00y\nc@x.com,""""\n',
    "stray quote inside a value": b'Email,Note\na@x.com,6" tall\nb@x.com,ok\n',
    "long header": (",".join(["Email"] + [f"c{i}" for i in range(40)]) + "\na@x.com\n").encode(),
    "no final newline": b"Email,N\na@x.com,1",
}


@pytest.mark.parametrize("content", SCANNED.values(), ids=SCANNED.keys())
def test_a_plain_file_read_in_blocks_matches_the_same_bytes_in_memory(
    tmp_path, make_mapping, monkeypatch, content
):
    # A plain file is scanned block by block and read by Arrow from disk; the same
    # bytes gzipped are read in memory. Tiny blocks put every boundary inside
    # the header, quotes and NUL bytes.
    import prefsync_audit._delimited as delimited

    monkeypatch.setattr(delimited, "_SCAN_BLOCK", 7)
    monkeypatch.setattr(delimited, "HEAD", 16)
    plain = tmp_path / "crm.csv"
    plain.write_bytes(content)
    zipped = tmp_path / "crm.csv.gz"
    zipped.write_bytes(gzip.compress(content))
    scanned, in_memory = load(plain, make_mapping()), load(zipped, make_mapping())
    assert scanned.sha256 == hashlib.sha256(content).hexdigest()
    assert rows(scanned) == rows(in_memory)
    assert bad(scanned) == bad(in_memory)
    assert scanned.rows_read == in_memory.rows_read


def test_an_unterminated_quote_in_a_file_read_in_blocks(tmp_path, make_mapping, monkeypatch):
    import prefsync_audit._delimited as delimited

    monkeypatch.setattr(delimited, "_SCAN_BLOCK", 5)
    path = tmp_path / "crm.csv"
    path.write_bytes(b'Email,N\na@x.com,1\nb@x.com,"open\nc@x.com,3\n')
    with pytest.raises(InputError, match=r"crm\.csv: line 3: a quoted field opens here"):
        load(path, make_mapping())


def test_ids_listed_together_per_person_stay_arrow_text():
    # Each person's two consents are adjacent, so the first rows repeat every
    # id; over the whole column the ids are mostly distinct and stay in Arrow
    # (a dictionary of millions of ids would cost more than it shares), while a
    # status column repeating a few values is a categorical of them.
    from prefsync_audit._frames import text_frame

    ids = [f"u{i // 2}@x.com" for i in range(40_000)]
    table = pa.table(
        {
            "Identifier": pa.chunked_array([ids[:15_000], ids[15_000:]]),
            "Status": pa.array(["ACTIVE", "WITHDRAWN"] * 20_000),
            "Withdrawn": pa.array([None if i % 5 else f"2025-01-{i}" for i in range(40_000)]),
        }
    )
    frame = text_frame(table, np.arange(1, 40_001), arrow_distinct=True)
    assert str(frame["Identifier"].dtype) == "str"
    assert str(frame["Withdrawn"].dtype) == "str"  # mostly missing, distinct when present
    assert isinstance(frame["Status"].dtype, pd.CategoricalDtype)
    assert frame["Identifier"].tolist() == ids


def test_repeated_values_read_for_mapping_are_narrow_codes_across_blocks():
    # The reader's blocks share one dictionary; missing values are code -1, and
    # a handful of values take one byte a row.
    from prefsync_audit._frames import text_frame

    blocks = [["ACTIVE", None, "OPT_OUT"] * 3000, ["WITHDRAWN", "ACTIVE", None] * 3000]
    table = pa.table({"Status": pa.chunked_array(blocks)})
    frame = text_frame(table, np.arange(1, 18_001), arrow_distinct=True)
    status = frame["Status"]
    assert status.cat.codes.dtype == np.int8
    assert [None if pd.isna(v) else v for v in status] == blocks[0] + blocks[1]
    # Read otherwise, the same column is shared Python strings.
    assert text_frame(table, np.arange(1, 18_001))["Status"].dtype == object


def test_blocks_with_dictionaries_of_their_own_are_coded_against_one():
    from prefsync_audit._frames import _categorical_text

    blocks = [
        pa.array(["a", "b", None]).dictionary_encode(),
        pa.array(["c", "a"]).dictionary_encode(),
    ]
    column = _categorical_text(pa.chunked_array(blocks))
    assert [None if pd.isna(v) else v for v in column] == ["a", "b", None, "c", "a"]
    assert column.cat.codes.tolist() == [0, 1, -1, 2, 0]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_large_plain_file_is_never_read_whole(tmp_path, make_mapping, monkeypatch, bom):
    # The header is read from the scanned head, a byte-order mark or not; only
    # an error (or a header longer than the head) reads all the bytes.
    import prefsync_audit._delimited as delimited

    def whole(self):
        raise AssertionError("the whole file was read")

    monkeypatch.setattr(delimited.DelimitedBytes, "whole", whole)
    path = tmp_path / "crm.csv"
    path.write_bytes(
        bom + b"Email,N\n" + b"".join(b"u%d@x.com,%d\n" % (i, i) for i in range(30_000))
    )
    assert path.stat().st_size > delimited.HEAD
    assert load(path, make_mapping()).rows_read == 30_000
