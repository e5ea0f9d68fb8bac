"""Reading delimited files (``_delimited.py``): the line bound, and the columns
left unread where screening them could find nothing."""

from __future__ import annotations

import random

import numpy as np
import pytest

from prefsync_audit._delimited import LINE_PIECE, LineBound, parse_delimited, scan_file
from prefsync_audit._frames import MAX_FIELD_BYTES
from prefsync_audit.load import ROW, load_file


def _longest_line(data: bytes) -> int:
    return max(len(line) for line in data.split(b"\n"))


@pytest.mark.parametrize("seed", range(300))
def test_line_bound_never_calls_a_long_line_short(seed):
    rng = random.Random(seed)
    piece = rng.choice([1, 2, 3, 4, 7])
    data = bytes(
        rng.choice(b"\nab" if rng.random() < 0.5 else b"\nabcdefgh")
        for _ in range(rng.randrange(0, 120))
    )
    bound = LineBound(piece)
    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randrange(1, 6))))
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        bound.update(np.frombuffer(data[start:end], dtype=np.uint8))
    longest = _longest_line(data)
    if longest >= 4 * piece:
        assert bound.long, (data, piece, cuts)
    # It errs the other way only so far, where blocks are whole pieces (the scan's are).
    aligned = all(cut % piece == 0 for cut in cuts[:-1])
    if longest < 2 * piece and aligned:
        assert not bound.long, (data, piece, cuts)


def test_line_bound_of_a_file_at_the_limit(tmp_path):
    """The scan's bound, on real blocks, a line split over two of them: as long as
    the limit, it is long; under half the limit, short (in between it may be
    either: the bound errs towards screening)."""
    from prefsync_audit.mapping import CsvOptions

    for length, long in ((2 * LINE_PIECE - 1, False), (MAX_FIELD_BYTES, True)):
        path = tmp_path / f"f{length}.csv"
        # The long line straddles the first scan block's end (16 MiB).
        filler = (b"x" * 99 + b"\n") * ((1 << 24) // 100 - 2)
        path.write_bytes(b"A,B\n" + filler + b"a," + b"y" * (length - 2) + b"\nb,2\n")
        source, _ = scan_file(path, CsvOptions())
        assert source.long_lines is long
    assert LINE_PIECE * 4 == MAX_FIELD_BYTES


def _parsed_columns(path, mapping):
    from prefsync_audit.load import _delimited_source

    source, _ = _delimited_source(path, mapping.csv)
    return parse_delimited(source, path, mapping.csv, tsv=False, keep=mapping.reads_column)


def test_unread_columns_are_not_parsed_where_their_screens_cannot_fail(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Note,Other\na@x.com,n1,o1\nb@x.com,n2,o2\n")
    parsed = _parsed_columns(path, make_mapping())
    assert parsed.table.column_names == ["Email"]
    assert not parsed.may_be_long


@pytest.mark.parametrize(
    "text",
    [
        'Email,Note\na@x.com,"quoted"\n',  # a quote could join lines into one value
        "Email,Note\na@x.com,n\x00ul\n",  # a NUL byte somewhere
        "Email,Note\na@x.com," + "x" * MAX_FIELD_BYTES + "\n",  # a line as long as the limit
    ],
    ids=["quoted", "nul", "long-line"],
)
def test_every_column_is_parsed_where_a_screen_could_fail(tmp_path, make_mapping, text):
    path = tmp_path / "crm.csv"
    # Past the limit in all (a smaller file cannot hold a value past it, quotes or not).
    path.write_text(text + "z@x.com,pad\n" * (MAX_FIELD_BYTES // 10))
    parsed = _parsed_columns(path, make_mapping())
    assert parsed.table.column_names == ["Email", "Note"]


def test_bad_values_in_unread_columns_still_quarantine_their_row(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    lines = ["Email,Note", "a@x.com,1", "b@x.com,2,extra", "c@x.com," + "x" * 300_000]
    lines += ["d@x.com,n\x00ul", "e@x.com,5"]
    path.write_text("\n".join(lines) + "\n")
    table = load_file(path, make_mapping(), "crm", path, mapped_only=True)
    assert table.bad_rows.to_dict("records") == [
        {ROW: 2, "reason": "expected 2 columns, found 3"},
        {ROW: 3, "reason": f"a value is longer than {MAX_FIELD_BYTES} bytes"},
        {ROW: 4, "reason": "a value holds a NUL byte"},
    ]
    assert table.frame[ROW].tolist() == [1, 5]
    assert "Note" not in table.frame.columns


def test_ragged_rows_are_found_with_unread_columns_left_unparsed(tmp_path, make_mapping):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Note,Other\na@x.com,1,2\nb@x.com,2\nc@x.com,3,4,5\nd@x.com,4,5\n")
    mapping = make_mapping()
    assert _parsed_columns(path, mapping).table.column_names == ["Email"]
    table = load_file(path, mapping, "crm", path, mapped_only=True)
    assert table.bad_rows.to_dict("records") == [
        {ROW: 2, "reason": "expected 3 columns, found 2"},
        {ROW: 3, "reason": "expected 3 columns, found 4"},
    ]
    assert table.frame[ROW].tolist() == [1, 4]
    assert table.frame["Email"].tolist() == ["a@x.com", "d@x.com"]


def test_the_unquoted_wide_export_has_only_its_mapped_columns_parsed(tmp_path, bench_script):
    """The export ``bench/memory_limits.py --unquoted`` measures (docs/limits.md)."""
    from prefsync_audit.config import load_config

    limits = bench_script("memory_limits")
    for quoted, parsed_columns in ((False, 12), (True, 200)):
        config = load_config(limits.wide_export(tmp_path / str(quoted), 500, quoted=quoted))
        mapping = config.mapping_of("crm")
        path = tmp_path / str(quoted) / "crm.csv"
        assert (b'"' in path.read_bytes()) is quoted
        assert _parsed_columns(path, mapping).table.num_columns == parsed_columns


def test_a_gzipped_file_is_bounded_as_a_scanned_one(tmp_path, make_mapping):
    """Held in memory (gunzipped), its lines are bounded the same way, block by block."""
    import gzip

    mapping = make_mapping()
    short = tmp_path / "short.csv.gz"
    short.write_bytes(gzip.compress(b"Email,Note\n" + b"a@x.com,n\n" * 40_000))
    assert _parsed_columns(short, mapping).table.column_names == ["Email"]
    long = tmp_path / "long.csv.gz"
    long.write_bytes(gzip.compress(b"Email,Note\na@x.com," + b"x" * 300_000 + b"\nb@x.com,2\n"))
    assert _parsed_columns(long, mapping).table.column_names == ["Email", "Note"]
    table = load_file(long, mapping, "crm", long, mapped_only=True)
    assert table.bad_rows.to_dict("records") == [
        {ROW: 1, "reason": f"a value is longer than {MAX_FIELD_BYTES} bytes"}
    ]


def test_each_column_is_freed_once_its_text_is_made(tmp_path, monkeypatch):
    """Loading holds the parsed file and its text side by side one column at a time,
    not all of both (what Arrow holds, measured before each column is converted)."""
    import pyarrow as pa

    from prefsync_audit import _frames
    from prefsync_audit._delimited import delimited_frame
    from prefsync_audit.load import _delimited_source
    from prefsync_audit.mapping import CsvOptions

    rows, width = 50_000, 40
    columns = [f"C{i}" for i in range(4)]
    lines = [",".join(columns)]
    lines += [",".join(f"{name}{row:0{width}d}" for name in columns) for row in range(rows)]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    source, _ = _delimited_source(path, CsvOptions())
    parsed = parse_delimited(source, path, CsvOptions(), tsv=False)
    held: list[int] = []
    convert = _frames._text_column

    def measured(column, arrow_distinct):
        held.append(pa.total_allocated_bytes())
        return convert(column, arrow_distinct)

    monkeypatch.setattr(_frames, "_text_column", measured)
    frame, _ = delimited_frame(parsed, keep=lambda name: True)
    assert list(frame.columns[1:]) == columns
    one_column = rows * (len("C0") + width)
    # Kept all, the text of three columns would be held beside the parsed file.
    assert held[-1] - held[0] < 1.5 * one_column
