"""Reading a CSV or TSV export: its encoding, its header, its quoting, its bad rows.

The file is untrusted, so each way it can be broken ends in one of two places:

* a problem with the **whole file** is an :class:`InputError` naming the file and
  the line: bytes that are not in the declared encoding (a latin-1 or UTF-16 file
  read as UTF-8), no header row, a header holding a NUL byte, a quoted field that
  is opened and never closed (it would swallow every row after it);
* a problem with **one row** makes it a bad row with a reason, quarantined and
  counted: a row with too few or too many fields, a value holding a NUL byte, a
  value past :data:`~prefsync_audit._frames.MAX_FIELD_BYTES`.

No message quotes a value from the file: they name lines, never content.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from prefsync_audit._frames import (
    MAX_FIELD_BYTES,
    BadRow,
    check_names,
    columns_as_text,
    data_row_numbers,
    screen_table,
    split_bad,
)
from prefsync_audit.errors import InputError
from prefsync_audit.mapping import CsvOptions

_UTF8_NAMES = ("utf-8", "utf8", "utf-8-sig", "utf8-sig")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: Arrow puts the offending row's text after "got N"; messages must not quote it.
_ROW_TEXT = re.compile(r"(got \d+)\s*:.*", re.DOTALL)
_HINT = "set csv.encoding in the mapping (e.g. latin-1, cp1252 or utf-16)"


@dataclass
class ParsedDelimited:
    """A delimited file parsed by Arrow, before its rows are screened and turned
    into text. It holds no reference to the file's bytes, so the caller can let
    them go before the text is built (the largest moment of a load)."""

    table: pa.Table
    numbers: np.ndarray
    """The 1-based data row of each row of ``table``."""
    bad: list[BadRow]
    has_nul: bool
    """Whether the file's bytes hold a NUL anywhere (only then are values scanned)."""
    may_be_long: bool
    """Whether the file is long enough to hold a value past the limit."""

    def take_table(self) -> pa.Table:
        """The parsed table, handed over: this object keeps none of its columns,
        so that each can be freed once turned into text."""
        table, self.table = self.table, self.table.schema.empty_table()
        return table


@dataclass
class DelimitedBytes:
    """What parsing needs of a delimited file's UTF-8 bytes, without holding them
    all when it can help it.

    From :func:`in_memory`, the bytes themselves (a gunzipped file, a ZIP member,
    a file decoded from another encoding). From :func:`scan_file`, a plain UTF-8
    file on disk, read once in blocks for its SHA-256 and counts; Arrow then
    reads it again from disk. A file of gigabytes is then never one buffer in
    the process: such a buffer is fresh memory, and on a virtual machine that
    hands freed memory back to its host, the first touch of each page of it
    costs as much as parsing it.
    """

    size: int
    quotes: int
    """How many quote characters the bytes hold."""
    has_nul: bool
    head: bytes
    """The first :data:`HEAD` bytes (the header row is read from them)."""
    long_lines: bool = True
    """Whether a line may be :data:`~prefsync_audit._frames.MAX_FIELD_BYTES` long
    or longer (:class:`LineBound`); when not, and no quote joins lines, no value is."""
    data: bytes | None = None
    path: Path | None = None

    @property
    def short_values(self) -> bool:
        """Whether no value can be past the limit: no line reaches it and no
        quoted value spans lines (the bytes hold no quote character)."""
        return self.size <= MAX_FIELD_BYTES or (self.quotes == 0 and not self.long_lines)

    def whole(self) -> bytes:
        """All the bytes (read from disk again for a scanned file: for error
        messages and a header row longer than the head)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return _read_file(self.path)

    def arrow_input(self) -> pa.NativeFile:
        """A new stream of the bytes for Arrow's CSV reader."""
        if self.data is not None:
            return pa.BufferReader(self.data)
        assert self.path is not None
        return pa.OSFile(str(self.path))


#: Bytes kept from the start of a scanned file: more than ``read_header``'s first
#: read (64 KiB after a byte-order mark). A longer header row is read from the
#: whole file.
HEAD = 1 << 17
#: Bytes read at a time when scanning a file.
_SCAN_BLOCK = 1 << 24


#: The bytes :class:`LineBound` asks about at a time: a quarter of the limit on a value.
LINE_PIECE = MAX_FIELD_BYTES // 4
_PIECES_IN_A_LONG_LINE = 3
_LINE_FEED = ord("\n")


class LineBound:
    """Whether a file's lines all stay under :data:`~prefsync_audit._frames.MAX_FIELD_BYTES`,
    told from its bytes in order (block by block) without finding every line end.

    The bytes are cut into pieces of at most :data:`LINE_PIECE` bytes (a quarter of
    the limit), and each piece is asked only whether it holds a line feed: a line of
    four pieces' length or more wholly covers at least three pieces in a row (those
    at its two ends may be covered only in part), so where no three pieces in a row
    lack a line feed every line is shorter than the limit. A line between two and
    four pieces long may still be counted as long: the bound errs only that way.
    A carriage return alone does not end a line here (an old Mac file is one long
    line to this bound, and is screened value by value as before).
    """

    def __init__(self, piece: int | None = None) -> None:
        self.piece = piece or LINE_PIECE
        self.run = 0
        """Pieces without a line feed at the end of the bytes seen so far."""
        self.long = False

    def update(self, octets: np.ndarray) -> None:
        """Take the next bytes of the file (a numpy array of ``uint8``)."""
        if self.long or not len(octets):
            return
        whole = len(octets) // self.piece * self.piece
        feeds = (octets[:whole] == _LINE_FEED).reshape(-1, self.piece).any(axis=1)
        if whole < len(octets):
            feeds = np.append(feeds, bool((octets[whole:] == _LINE_FEED).any()))
        at = np.flatnonzero(feeds)
        if not len(at):
            self.run += len(feeds)
        else:
            gaps = np.diff(at) - 1
            longest = max(self.run + int(at[0]), int(gaps.max(initial=0)))
            self.long = longest >= _PIECES_IN_A_LONG_LINE
            self.run = len(feeds) - 1 - int(at[-1])
        self.long = self.long or self.run >= _PIECES_IN_A_LONG_LINE


def in_memory(data: bytes, options: CsvOptions, path: Path) -> DelimitedBytes:
    """A delimited file's bytes held in memory, decoded to UTF-8 first."""
    data = to_utf8(data, options.encoding, path)
    quote = options.quotechar.encode("utf-8")
    lines = LineBound()
    octets = np.frombuffer(data, dtype=np.uint8)
    for start in range(0, len(octets), _SCAN_BLOCK):  # its masks a block at a time
        lines.update(octets[start : start + _SCAN_BLOCK])
    return DelimitedBytes(
        len(data), data.count(quote), b"\x00" in data, data[:HEAD], lines.long, data=data
    )


def can_scan(options: CsvOptions) -> bool:
    """Whether a plain file can be read from disk as it is: already UTF-8, and a
    one-byte quote character (counted block by block)."""
    return (
        options.encoding.lower().replace("_", "-") in _UTF8_NAMES
        and len(options.quotechar.encode("utf-8")) == 1
    )


def scan_file(path: Path, options: CsvOptions) -> tuple[DelimitedBytes, str]:
    """A plain UTF-8 delimited file read in blocks into one reused buffer: what
    parsing needs of it, and its SHA-256."""
    digest = hashlib.sha256()
    quote = options.quotechar.encode("utf-8")
    quotes, has_nul, size, head = 0, False, 0, b""
    lines = LineBound()
    block = bytearray(_SCAN_BLOCK)
    view = memoryview(block)
    # numpy counts a byte four times as fast as ``bytes.count`` (a loop over
    # every byte): 0.6 s of the 2.4 GB OneTrust export at 5M persons.
    octets = np.frombuffer(block, dtype=np.uint8)
    try:
        with open(path, "rb") as file:
            while length := file.readinto(block):
                digest.update(view[:length])
                quotes += int(np.count_nonzero(octets[:length] == quote[0]))
                lines.update(octets[:length])
                has_nul = has_nul or block.find(b"\x00", 0, length) >= 0
                if size < HEAD:
                    head += bytes(view[: min(length, HEAD - size)])
                size += length
    except OSError as exc:
        raise InputError.unreadable(path, exc) from None
    start = _bom_length(head)
    _refuse_utf16(head[start : start + 4096], path)
    return DelimitedBytes(size, quotes, has_nul, head, lines.long, path=path), digest.hexdigest()


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError.unreadable(path, exc) from None


def parse_delimited(
    source: DelimitedBytes,
    path: Path,
    options: CsvOptions,
    tsv: bool,
    keep: Callable[[str], bool] | None = None,
) -> ParsedDelimited:
    """Parse a delimited file: its header, quoting and ragged rows.

    ``keep`` (optional): the columns the caller will read. Only those are turned
    into arrays when screening the others could find nothing: the bytes hold no
    NUL and no value can be past the limit (:attr:`DelimitedBytes.short_values`).
    Rows of the wrong width are found either way (the parser counts every field).
    """
    delimiter = "\t" if tsv and options.delimiter == "," else options.delimiter
    if source.quotes % 2:
        check_quotes(source.whole(), options.quotechar, delimiter, path)
    names = unique_names(read_header(source, path, delimiter, options.quotechar))
    check_names(names, f"{path}: line 1")
    columns = None
    if keep is not None and not source.has_nul and source.short_values:
        # A column nobody reads would only be screened, and the screens are sure
        # to pass: its values are never made (a wide export's share of memory).
        columns = [name for name in names if keep(name)] or names[:1]
    table, parse_bad, last_bad_spans_lines = _parse(
        source, path, names, delimiter, options.quotechar, source.quotes > 0, columns
    )
    if _last_record_spans_lines(table, parse_bad, last_bad_spans_lines):
        # A quote opened and never closed swallows the rest of the file into the
        # last record; an odd and an even stray quote could hide it from the count.
        check_quotes(source.whole(), options.quotechar, delimiter, path)
    numbers = data_row_numbers(table.num_rows + len(parse_bad), [n for n, _ in parse_bad])
    return ParsedDelimited(table, numbers, parse_bad, source.has_nul, not source.short_values)


def delimited_frame(
    parsed: ParsedDelimited, keep: Callable[[str], bool] | None = None
) -> tuple[pd.DataFrame, list[BadRow]]:
    """The rows of a parsed file as text (with ``__row``), and its bad rows.

    ``keep`` (optional) chooses the columns to return (then the columns of mostly
    distinct values stay in Arrow, and those of repeated values are categoricals);
    rows are screened on every column parsed (:func:`parse_delimited` leaves a
    column out only where no screen could flag a value of it)."""
    table = parsed.take_table()
    reasons = screen_table(table, nul=parsed.has_nul, long=parsed.may_be_long)
    table, numbers, cell_bad = split_bad(table, parsed.numbers, reasons)
    names = [name for name in table.column_names if keep is None or keep(name)]
    columns = {name: table.column(name) for name in names}
    del table  # each column is freed as soon as its text is made
    frame = columns_as_text(columns, numbers, arrow_distinct=keep is not None)
    return frame, sorted(parsed.bad + cell_bad)


def to_utf8(data: bytes, encoding: str, path: Path) -> bytes:
    """The file's bytes as UTF-8. A UTF-8 byte-order mark is left in place: Arrow
    skips it and ``read_header`` too, and dropping three bytes from the front of a
    file of gigabytes would copy all of it."""
    if encoding.lower().replace("_", "-") in _UTF8_NAMES:
        start = _bom_length(data)
        _refuse_utf16(data[start : start + 4096], path)
        return data
    try:
        text = data.decode(encoding)
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r} (csv.encoding)") from None
    except UnicodeDecodeError as exc:
        raise undecodable(data, exc.start, encoding, path) from None
    return text.removeprefix("\ufeff").encode("utf-8")


def _refuse_utf16(data: bytes, path: Path) -> None:
    """A UTF-16 file read as UTF-8 is all NUL bytes and mojibake: say what it is."""
    if data.startswith(_UTF16_BOMS):
        why = "it starts with a UTF-16 byte-order mark"
    else:
        head = data[:4096]
        odd, even = head[1::2], head[0::2]
        if len(head) < 8 or not (odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even)):
            return
        why = "every other byte is NUL"
    raise InputError(
        f"{path}: line 1: the file looks like UTF-16 ({why}), not UTF-8; "
        "set csv.encoding: utf-16 in the mapping"
    )


def _unclosed_quote(data: bytes, quote: bytes, delimiter: bytes) -> int | None:
    """Where a quoted field opens that is never closed, reading quotes as Arrow does:
    a quote opens a field only at its start, ``""`` inside is a literal quote.
    Streams over the quote characters, so memory stays constant."""
    starts = (delimiter, b"\n", b"\r")
    inside, opened, escaped = False, None, False
    for match in re.finditer(re.escape(quote), data):
        at = match.start()
        if escaped:
            escaped = False
        elif not inside:
            if at == 0 or data[at - 1 : at] in starts:
                inside, opened = True, at
        elif data[at + 1 : at + 2] == quote:
            escaped = True
        else:
            inside = False
    return opened if inside else None


def check_quotes(data: bytes, quotechar: str, delimiter: str, path: Path) -> None:
    """Refuse a file whose quoted field never closes: every row after the opening
    quote would be swallowed into one value. The scan runs in Python over the
    quote characters, so it is only called on suspicion: an odd number of quote
    characters, or a last record that spans lines."""
    quote = quotechar.encode("utf-8")
    opened = _unclosed_quote(data, quote, delimiter.encode("utf-8"))
    if opened is not None:
        line = data.count(b"\n", 0, opened) + 1
        raise InputError(
            f"{path}: line {line}: a quoted field opens here and is never closed "
            "(a truncated file or a stray quote); every later row would be swallowed"
        )


def _bom_length(data: bytes) -> int:
    return len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0


def read_header(source: DelimitedBytes, path: Path, delimiter: str, quotechar: str) -> list[str]:
    """The header row (it may span lines inside quotes, and be longer than any buffer),
    after a UTF-8 byte-order mark if the file starts with one."""
    start = _bom_length(source.head)
    size = 1 << 16
    # Most headers end within the head; a longer one is read from all the bytes.
    data = source.head
    complete = len(data) == source.size
    while True:
        if not complete and start + size > len(data):
            data, complete = source.whole(), True
        chunk = data[start : start + size]
        whole = complete and start + len(chunk) == len(data)
        text = chunk.decode("utf-8", errors="replace")
        buffer = io.StringIO(text, newline="")
        try:
            header = next(csv.reader(buffer, delimiter=delimiter, quotechar=quotechar), None)
        except csv.Error as exc:
            raise InputError(f"{path}: line 1: cannot read the header row ({exc})") from None
        if whole or buffer.tell() < len(text):
            break
        size *= 16
    if not header or all(not name.strip() for name in header):
        raise InputError(f"{path}: empty file (no header row)")
    if any("\ufffd" in name for name in header):
        at = _first_invalid_utf8(chunk)
        if at is not None:
            raise undecodable(data, start + at, "utf-8", path)
    return header


def unique_names(names: list[str]) -> list[str]:
    """Repeated column names (Customer Match repeats ``Email``) become ``Email#2``…"""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        name = name.strip()
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return unique


def _first_invalid_utf8(data: bytes) -> int | None:
    """The offset of the first byte that is not valid UTF-8 (decoded in steps)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 24
    for offset in range(0, len(data), step):
        chunk = data[offset : offset + step]
        try:
            decoder.decode(chunk, final=offset + step >= len(data))
        except UnicodeDecodeError as exc:
            # ``exc.object`` starts with the bytes the decoder still held.
            return max(offset - (len(exc.object) - len(chunk)) + exc.start, 0)
    return None


def undecodable(data: bytes, at: int, encoding: str, path: Path) -> InputError:
    """The error for a byte at offset ``at`` that ``encoding`` cannot decode."""
    line = data.count(b"\n", 0, at) + 1
    return InputError(
        f"{path}: line {line}: byte 0x{data[at]:02x} cannot be decoded as {encoding}; {_HINT}"
    )


def _last_record_spans_lines(table: pa.Table, bad: list[BadRow], bad_spans: bool) -> bool:
    """True when the file's last record holds a line break (inside quotes)."""
    total = table.num_rows + len(bad)
    if bad and bad[-1][0] == total:
        return bad_spans
    if not table.num_rows:
        return False
    last = table.slice(table.num_rows - 1)
    return any(
        pc.any(pc.match_substring_regex(column, "[\r\n]")).as_py()
        for column in last.columns
        if column.null_count < len(column)
    )


def _parse(
    source: DelimitedBytes,
    path: Path,
    names: list[str],
    delimiter: str,
    quotechar: str,
    quoted: bool = True,
    columns: list[str] | None = None,
) -> tuple[pa.Table, list[BadRow], bool]:
    """The rows Arrow reads (of ``columns`` only, if given), the bad rows, and
    whether the last bad row spans lines.

    ``quoted``: the bytes hold the quote character. Without it no value can hold
    a line break, and Arrow splits the file into blocks at line ends without
    reading quotes first (a third faster)."""

    def read(
        use_threads: bool, columns: list[str] | None = columns
    ) -> tuple[pa.Table, list[tuple[int, str, bool]]]:
        """The table (of ``columns`` only, if given) and each bad row's number,
        reason and whether it spans lines."""
        bad: list[tuple[int, str, bool]] = []

        def on_invalid(row: Any) -> str:
            reason = f"expected {row.expected_columns} columns, found {row.actual_columns}"
            bad.append((row.number, reason, "\n" in row.text or "\r" in row.text))
            return "skip"

        table = pa_csv.read_csv(
            source.arrow_input(),
            read_options=pa_csv.ReadOptions(
                use_threads=use_threads, column_names=names, skip_rows=1, block_size=1 << 22
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter,
                quote_char=quotechar,
                newlines_in_values=quoted,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
                include_columns=columns or [],
            ),
        )
        return table, bad

    try:
        table, bad = read(use_threads=True)
        if bad:
            # Parallel reading cannot number bad rows. Number them in one thread,
            # converting one column only: the rows split the same way, and the
            # whole file is not held twice.
            _, numbered_bad = read(use_threads=False, columns=names[:1])
            if len(numbered_bad) != len(bad):  # not expected; stay exact anyway
                table, numbered_bad = read(use_threads=False)
            bad = numbered_bad
    except pa.ArrowException as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        data = source.whole() if "invalid UTF8" in message else b""
        at = _first_invalid_utf8(data) if data else None
        if at is not None:
            raise undecodable(data, at, "utf-8", path) from None
        message = _ROW_TEXT.sub(r"\1", message)
        raise InputError(f"{path}: cannot parse as CSV: {message}") from None
    # Row numbers from Arrow count the header as row 1.
    bad.sort()
    numbered = [(int(number) - 1, reason) for number, reason, _ in bad]
    last_spans = bool(bad) and bad[-1][2]
    return table, numbered, last_spans
