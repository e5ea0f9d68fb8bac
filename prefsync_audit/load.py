"""Stage 1 — load: read every export file of a system into a table of text.

Every value is read as text (or missing): meaning is given later by the
mapping, so a reader never guesses types. Each table keeps provenance: the
file, its SHA-256, and the 1-based data row of every row (``__row``). Rows the
reader cannot use (a ragged CSV row, a JSONL line that is not JSON) are not
dropped: they come back in ``bad_rows`` with a reason, to be quarantined.

A ``.zip`` path stands for the data files inside it (see ``_archive``), each
loaded as its own table. A mapping with ``explode`` reads one row per element of
an array column (see :func:`explode_frame`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from prefsync_audit._archive import archive_members, is_archive, read_member, split_member
from prefsync_audit.errors import InputError
from prefsync_audit.mapping import FileFormat, Mapping

#: The provenance column every loaded frame carries: the 1-based data row.
ROW = "__row"

_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class RawTable:
    """One export file, read as text, with its provenance."""

    system: str
    path: Path
    """The file as named relative to the config's folder (for reports)."""
    sha256: str
    frame: pd.DataFrame
    """Every column as text (missing = NA), plus ``__row``."""
    rows_read: int
    bad_rows: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({ROW: pd.Series(dtype="int64"), "reason": []})
    )
    """Rows the reader could not use: ``__row`` and ``reason``."""


def resolve_paths(patterns: list[str], base_dir: Path, system: str) -> list[Path]:
    """Expand the system's path patterns (globs allowed), in a stable order.

    A ``.zip`` file (named, matched or in a folder) is replaced by the member paths
    of its data files, ``archive.zip:member.csv``.
    """
    found: list[Path] = []
    for pattern in patterns:
        candidate = base_dir / pattern
        if any(ch in pattern for ch in "*?["):
            matches = sorted(p for p in base_dir.glob(pattern) if p.is_file())
            if not matches:
                raise InputError(f"systems.{system}.paths: no file matches {pattern!r}")
            found += matches
        elif candidate.is_file():
            found.append(candidate)
        elif candidate.is_dir():
            found += sorted(p for p in candidate.iterdir() if p.is_file())
        else:
            raise InputError(f"{candidate}: export file not found (systems.{system}.paths)")
    expanded: list[Path] = []
    for path in dict.fromkeys(found):
        expanded += archive_members(path) if is_archive(path) else [path]
    return list(dict.fromkeys(expanded))


def format_from_name(path: Path) -> FileFormat | None:
    """The format a file's extension names (ignoring ``.gz``), if any."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _EXTENSIONS.get(suffixes[-1]) if suffixes else None


def detect_format(path: Path, mapping: Mapping) -> FileFormat:
    if mapping.format:
        return mapping.format
    fmt = format_from_name(path)
    if fmt is not None:
        return fmt
    raise InputError(f"{path}: cannot tell the file format; set 'format' in the mapping")


def stored_bytes(path: Path) -> bytes:
    """The file's bytes as stored (for a ZIP member path: the member's bytes)."""
    member = split_member(path)
    if member is not None:
        return read_member(*member)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_bytes(path: Path, data: bytes | None = None) -> bytes:
    """The file's content (``data``, if already read), gunzipped when it ends in ``.gz``."""
    if data is None:
        data = stored_bytes(path)
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not a valid gzip file ({exc})") from None
    return data


def load_file(path: Path, mapping: Mapping, system: str, display: Path) -> RawTable:
    """Read one export file (or ZIP member path) as text according to the mapping.

    The SHA-256 is of the bytes as stored (for a ZIP member: the member's own
    bytes, so it matches ``sha256sum`` of the extracted file).
    """
    raw = stored_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    data = read_bytes(path, raw)
    fmt = detect_format(path, mapping)
    if fmt in ("csv", "tsv"):
        frame, bad = _read_delimited(data, path, mapping, fmt)
    elif fmt == "json":
        frame, bad = _read_json(data, path, mapping)
    elif fmt == "jsonl":
        frame, bad = _read_jsonl(data, path, mapping)
    else:
        frame, bad = _read_parquet(data, path)
    if mapping.explode:
        frame, not_arrays = explode_frame(frame, mapping.explode)
        bad = sorted(bad + not_arrays)
    name = _file_name(path)
    for column, pattern in mapping.file_name_fields.items():
        match = re.search(pattern, name)
        frame[column] = match.group(1) if match and match.groups() else pd.NA
    rows_read = len(frame) + len(bad)
    bad_rows = pd.DataFrame(
        {ROW: pd.Series([b[0] for b in bad], dtype="int64"), "reason": [b[1] for b in bad]}
    )
    return RawTable(system, display, digest, frame, rows_read, bad_rows)


def _file_name(path: Path) -> str:
    """The name ``file_name_fields`` read: for a ZIP member, the member's own name."""
    member = split_member(path)
    return Path(member[1]).name if member else path.name


def _number_rows(frame: pd.DataFrame, bad_numbers: list[int]) -> pd.DataFrame:
    """Give each good row its data-row number, counting the bad rows in between."""
    total = len(frame) + len(bad_numbers)
    good = sorted(set(range(1, total + 1)) - set(bad_numbers)) if bad_numbers else None
    frame.insert(0, ROW, good if good is not None else range(1, total + 1))
    return frame


def _decode(data: bytes, encoding: str, path: Path) -> str:
    try:
        return data.decode(
            "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        )
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(f"{path}: cannot decode as {encoding}: {exc}") from None


def _header(data: bytes, path: Path, delimiter: str, quotechar: str, encoding: str) -> list[str]:
    head = _decode(data[: 1 << 16], encoding, path) if len(data) <= 1 << 16 else None
    if head is None:
        # Decode a prefix leniently: only the first line matters here.
        head = data[: 1 << 16].decode(encoding, errors="ignore").lstrip("\ufeff")
    rows = csv.reader(io.StringIO(head), delimiter=delimiter, quotechar=quotechar)
    header = next(rows, None)
    if not header or all(not name.strip() for name in header):
        raise InputError(f"{path}: empty file (no header row)")
    return header


def _unique_names(names: list[str]) -> list[str]:
    """Repeated column names (Customer Match repeats ``Email``) become ``Email#2``…"""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        name = name.strip()
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return unique


def _read_delimited(
    data: bytes, path: Path, mapping: Mapping, fmt: FileFormat
) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    options = mapping.csv
    delimiter = "\t" if fmt == "tsv" and options.delimiter == "," else options.delimiter
    encoding = options.encoding
    names = _unique_names(_header(data, path, delimiter, options.quotechar, encoding))
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        data = _decode(data, encoding, path).encode("utf-8")
    elif data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]

    def read(use_threads: bool) -> tuple[pa.Table, list[tuple[int | None, str]]]:
        bad: list[tuple[int | None, str]] = []

        def on_invalid(row: Any) -> str:
            bad.append(
                (row.number, f"expected {row.expected_columns} columns, found {row.actual_columns}")
            )
            return "skip"

        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(
                use_threads=use_threads,
                column_names=names,
                skip_rows=1,
                block_size=1 << 22,
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter,
                quote_char=options.quotechar,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
        return table, bad

    try:
        table, bad = read(use_threads=True)
        if bad:
            # Parallel reading cannot number bad rows; read again in one thread.
            table, bad = read(use_threads=False)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        message = str(exc).splitlines()[0]
        raise InputError(f"{path}: cannot parse as {fmt.upper()}: {message}") from None
    # Row numbers from pyarrow count the header as row 1.
    bad_rows = [(int(number) - 1, reason) for number, reason in bad]
    frame = _to_text_frame(table)
    return _number_rows(frame, [n for n, _ in bad_rows]), bad_rows


def _to_text_frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    for column in frame.columns:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return frame


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _flatten(record: dict[str, Any], prefix: str, out: dict[str, str | None]) -> None:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
        else:
            out[name] = _scalar_text(value)


def _records_frame(records: list[tuple[int, Any]], path: Path) -> tuple[pd.DataFrame, list]:
    rows, numbers, bad = [], [], []
    for number, record in records:
        if not isinstance(record, dict):
            bad.append((number, "record is not a JSON object"))
            continue
        flat: dict[str, str | None] = {}
        _flatten(record, "", flat)
        rows.append(flat)
        numbers.append(number)
    frame = pd.DataFrame(rows, dtype="object")
    frame = frame.where(frame.notna(), None)
    frame.insert(0, ROW, pd.Series(numbers, dtype="int64"))
    return frame, bad


def _read_json(data: bytes, path: Path, mapping: Mapping) -> tuple[pd.DataFrame, list]:
    try:
        document = json.loads(_decode(data, "utf-8", path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    records_path = mapping.json_records.records_path
    if records_path:
        for part in records_path.split("."):
            if not isinstance(document, dict) or part not in document:
                raise InputError(f"{path}: no records at JSON path {records_path!r}")
            document = document[part]
    if not isinstance(document, list):
        where = f"at {records_path!r}" if records_path else "at the top level"
        raise InputError(f"{path}: expected a JSON array of records {where}")
    return _records_frame(list(enumerate(document, start=1)), path)


def _read_jsonl(data: bytes, path: Path, mapping: Mapping) -> tuple[pd.DataFrame, list]:
    records: list[tuple[int, Any]] = []
    bad: list[tuple[int, str]] = []
    text = _decode(data, "utf-8", path)
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            bad.append((number, f"invalid JSON: {exc.msg}"))
    frame, not_objects = _records_frame(records, path)
    return frame, sorted(bad + not_objects)


def _read_parquet(data: bytes, path: Path) -> tuple[pd.DataFrame, list]:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read Parquet: {exc}") from None
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            columns[name] = pa.array([_scalar_text(v) for v in column.to_pylist()], pa.string())
        else:
            try:
                columns[name] = column.cast(pa.string())
            except pa.ArrowException:
                columns[name] = pa.array([_scalar_text(v) for v in column.to_pylist()], pa.string())
    frame = _to_text_frame(pa.table(columns) if columns else table)
    return _number_rows(frame, []), []


def _element_fields(element: Any, column: str) -> dict[str, str | None] | None:
    """The columns one array element gives (``None`` when it cannot be one)."""
    if isinstance(element, dict):
        flat: dict[str, str | None] = {}
        _flatten(element, column + ".", flat)
        return flat
    if isinstance(element, list):
        return None
    return {column: _scalar_text(element)}


def _parse_array(text: str | None, column: str) -> list[dict[str, str | None]] | str:
    """The rows of one record's array, or the reason it is not an array."""
    if text is None or not str(text).strip():
        return [{}]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return f"{column} is not a JSON array"
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return f"{column} is not a JSON array"
    rows = [_element_fields(element, column) for element in value]
    if any(row is None for row in rows):
        return f"{column} holds an array inside an array"
    return rows or [{}]  # type: ignore[return-value]


def explode_frame(frame: pd.DataFrame, column: str) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """One row per element of the JSON array in ``column``, the record's fields repeated.

    An element object's fields become ``<column>.<field>`` (nested objects flattened,
    arrays as JSON text); a scalar element is the value of ``<column>``. A record whose
    array is empty, ``null`` or missing gives one row with the element fields blank
    (the person is still known); a single object counts as a one-element array. A
    value that is not JSON comes back as a bad row (``<column> is not a JSON array``).
    Every row keeps its record's ``__row``.
    """
    if column in frame.columns:
        texts = frame[column]
        parents = frame.drop(columns=column)
    else:
        texts = pd.Series([None] * len(frame), index=frame.index, dtype="object")
        parents = frame
    parsed = {text: _parse_array(text, column) for text in pd.unique(texts.dropna())}
    positions: list[int] = []
    elements: list[dict[str, str | None]] = []
    bad: list[tuple[int, str]] = []
    numbers = frame[ROW].to_numpy()
    for position, text in enumerate(texts.to_numpy()):
        rows = [{}] if text is None or pd.isna(text) else parsed[text]
        if isinstance(rows, str):
            bad.append((int(numbers[position]), rows))
            continue
        positions += [position] * len(rows)
        elements += rows
    exploded = parents.iloc[positions].reset_index(drop=True)
    fields = pd.DataFrame(elements, dtype="object")
    fields = fields.where(fields.notna(), None)
    if column not in fields.columns and not any(c.startswith(column + ".") for c in fields):
        fields[column] = None
    for name in fields.columns:
        exploded[name] = pd.Series(
            fields[name].to_numpy() if len(fields) else [], index=exploded.index, dtype="object"
        )
    return exploded, bad
