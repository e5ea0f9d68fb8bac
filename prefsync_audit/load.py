"""Stage 1 — load: read every export file of a system into a table of text.

Every value is read as text (or missing): meaning is given later by the
mapping, so a reader never guesses types. Each table keeps provenance: the
file, its SHA-256, and the 1-based data row of every row (``__row``). Rows the
reader cannot use (a ragged CSV row, a JSONL line that is not JSON, a value
holding a NUL byte or longer than 256 KiB) are not dropped: they come back in
``bad_rows`` with a reason, to be quarantined. A file that cannot be read at all
is an :class:`InputError` naming the file and the line; no message quotes a
value. CSV and TSV are read by ``_delimited``, text frames built by ``_frames``.

A ``.zip`` path stands for the data files inside it (see ``_archive``), each
loaded as its own table. A mapping with ``explode`` reads one row per element of
an array column (see :func:`explode_frame`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from prefsync_audit._archive import (
    MAX_UNCOMPRESSED_BYTES,
    archive_members,
    gunzip,
    is_archive,
    read_member,
    split_member,
)
from prefsync_audit._delimited import (
    DelimitedBytes,
    can_scan,
    delimited_frame,
    in_memory,
    parse_delimited,
    scan_file,
    unique_names,
)
from prefsync_audit._frames import (
    ROW,
    BadRow,
    cell_problems,
    check_names,
    data_row_numbers,
    screen_table,
    split_bad,
    text_frame,
)
from prefsync_audit.errors import InputError
from prefsync_audit.mapping import CsvOptions, FileFormat, Mapping

#: The most cells (rows × leaf columns) a Parquet file may decode to: Parquet
#: compresses repeated values so well that a small file can stand for billions.
MAX_PARQUET_CELLS = 500_000_000

__all__ = [
    "ROW",
    "RawTable",
    "detect_format",
    "explode_frame",
    "format_from_name",
    "load_file",
    "read_bytes",
    "resolve_paths",
    "stored_bytes",
]

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
    """Every column as text (missing = NA), plus ``__row``; read for mapping,
    a column of repeated values is a categorical of them."""
    rows_read: int
    bad_rows: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({ROW: pd.Series(dtype="int64"), "reason": []})
    )
    """Rows the reader could not use: ``__row`` and ``reason``."""


def _glob(pattern: str, base_dir: Path) -> list[Path]:
    """Files matching a glob; an absolute pattern globs from its own root."""
    if Path(pattern).is_absolute():
        anchor = Path(Path(pattern).anchor)
        base_dir, pattern = anchor, str(Path(pattern).relative_to(anchor))
    try:
        return sorted(p for p in base_dir.glob(pattern) if p.is_file())
    except (OSError, ValueError, NotImplementedError) as exc:
        raise InputError(f"{base_dir / pattern}: cannot list the files it matches: {exc}") from None


def resolve_paths(patterns: list[str], base_dir: Path, system: str) -> list[Path]:
    """Expand the system's path patterns (globs allowed), in a stable order.

    A ``.zip`` file (named, matched or in a folder) is replaced by the member paths
    of its data files, ``archive.zip:member.csv``.
    """
    found: list[Path] = []
    for pattern in patterns:
        if not pattern.strip():
            raise InputError(f"systems.{system}.paths: an empty path")
        candidate = base_dir / pattern
        if any(ch in pattern for ch in "*?["):
            matches = _glob(pattern, base_dir)
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
        raise InputError.unreadable(path, exc) from None


def read_bytes(path: Path, data: bytes | None = None) -> bytes:
    """The file's content (``data``, if already read), gunzipped when it ends in ``.gz``
    (refused past :data:`~prefsync_audit._archive.MAX_UNCOMPRESSED_BYTES`)."""
    if data is None:
        data = stored_bytes(path)
    if _gzipped(path):
        data = gunzip(data, path, MAX_UNCOMPRESSED_BYTES)
    return data


def _gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def load_file(
    path: Path, mapping: Mapping, system: str, display: Path, mapped_only: bool = False
) -> RawTable:
    """Read one export file (or ZIP member path) as text according to the mapping.

    The SHA-256 is of the bytes as stored (for a ZIP member: the member's own
    bytes, so it matches ``sha256sum`` of the extracted file). ``mapped_only``:
    of a CSV/TSV file keep only the columns the mapping reads (every column is
    still screened for unusable values, or left unread where no screen could
    find one), ids as Arrow text and repeated values as categoricals, as the
    mapper takes them.
    """
    fmt = detect_format(path, mapping)
    if fmt in ("csv", "tsv"):
        source, digest = _delimited_source(path, mapping.csv)
        keep = mapping.reads_column if mapped_only and not mapping.explode else None
        parsed = parse_delimited(source, path, mapping.csv, tsv=fmt == "tsv", keep=keep)
        del source  # the file's bytes go before its text is built
        frame, bad = delimited_frame(parsed, keep)
        del parsed
    else:
        data, digest = _file_bytes(path)
        frame, bad = _read_structured(data, path, fmt, mapping)
        del data
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


def _file_bytes(path: Path) -> tuple[bytes, str]:
    """The file's content (gunzipped) and the SHA-256 of its bytes as stored."""
    raw = stored_bytes(path)
    return read_bytes(path, raw), hashlib.sha256(raw).hexdigest()


def _delimited_source(path: Path, options: CsvOptions) -> tuple[DelimitedBytes, str]:
    """A delimited file's bytes for parsing, and the SHA-256 of its bytes as stored."""
    if split_member(path) is None and not _gzipped(path) and can_scan(options):
        # A plain file is read from disk block by block, never whole in memory.
        return scan_file(path, options)
    data, digest = _file_bytes(path)
    return in_memory(data, options, path), digest


def _read_structured(
    data: bytes, path: Path, fmt: FileFormat, mapping: Mapping
) -> tuple[pd.DataFrame, list[BadRow]]:
    """A JSON, JSON Lines or Parquet file's rows as text, and its bad rows."""
    if fmt == "json":
        return _read_json(data, path, mapping)
    if fmt == "jsonl":
        return _read_jsonl(data, path)
    return _read_parquet(data, path)


def _file_name(path: Path) -> str:
    """The name ``file_name_fields`` read: for a ZIP member, the member's own name."""
    member = split_member(path)
    return Path(member[1]).name if member else path.name


def _bytes_text(value: bytes) -> str:
    """Bytes from a binary Parquet column: UTF-8 text as such, other bytes escaped
    (``\\xff``; a NUL byte stays one, so its row is quarantined)."""
    return value.decode("utf-8", errors="backslashreplace")


def _json_default(value: Any) -> str:
    """Values JSON has no type for (bytes, times, decimals from Parquet) as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return _bytes_text(value)
    return str(value)


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return _bytes_text(value)
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default)
    return str(value)


def _flatten(record: dict[str, Any], prefix: str, out: dict[str, str | None]) -> None:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
        else:
            out[name] = _scalar_text(value)


def _record_fields(record: Any) -> dict[str, str | None] | str:
    """One JSON record's columns, or the reason it cannot be a row."""
    if not isinstance(record, dict):
        return "record is not a JSON object"
    flat: dict[str, str | None] = {}
    try:
        _flatten(record, "", flat)
    except (RecursionError, ValueError):
        # ValueError: an integer past Python's digit limit.
        return "record is nested too deeply or holds an oversized number"
    for value in flat.values():
        problem = cell_problems(value)
        if problem:
            return problem
    return flat


def _records_frame(records: list[tuple[int, Any]], path: Path) -> tuple[pd.DataFrame, list]:
    rows, numbers, bad = [], [], []
    for number, record in records:
        fields = _record_fields(record)
        if isinstance(fields, str):
            bad.append((number, fields))
            continue
        rows.append(fields)
        numbers.append(number)
    frame = pd.DataFrame(rows, dtype="object")
    check_names([str(c) for c in frame.columns], str(path))
    frame = frame.where(frame.notna(), None)
    frame.insert(0, ROW, pd.Series(numbers, dtype="int64"))
    return frame, bad


def _json_text(data: bytes, path: Path) -> str:
    """The document as text: UTF-8 (with or without a byte-order mark), UTF-16 or
    UTF-32, as JSON allows (RFC 8259 reads only UTF-8, but exports vary)."""
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding}"
        ) from None


def _read_json(data: bytes, path: Path, mapping: Mapping) -> tuple[pd.DataFrame, list]:
    try:
        document = json.loads(_json_text(data, path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except (RecursionError, ValueError):
        raise InputError(
            f"{path}: the JSON is nested too deeply or holds an oversized number"
        ) from None
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


def _read_jsonl(data: bytes, path: Path) -> tuple[pd.DataFrame, list]:
    records: list[tuple[int, Any]] = []
    bad: list[tuple[int, str]] = []
    text = _json_text(data, path)
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            bad.append((number, f"invalid JSON: {exc.msg}"))
        except (RecursionError, ValueError):
            bad.append((number, "JSON nested too deeply or holding an oversized number"))
    frame, not_objects = _records_frame(records, path)
    return frame, sorted(bad + not_objects)


def _parquet_table(data: bytes, path: Path) -> pa.Table:
    """The file's table, refused before decoding when it would decode to more than
    :data:`MAX_PARQUET_CELLS` cells or :data:`MAX_UNCOMPRESSED_BYTES` bytes."""
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        meta = parquet.metadata
        cells = meta.num_rows * max(meta.num_columns, 1)
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if cells > MAX_PARQUET_CELLS or size > MAX_UNCOMPRESSED_BYTES:
            raise InputError(
                f"{path}: {meta.num_rows} rows × {meta.num_columns} columns "
                f"({size} bytes decoded), more than the limit of {MAX_PARQUET_CELLS} cells "
                f"or {MAX_UNCOMPRESSED_BYTES} bytes; refused"
            )
        return parquet.read()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read Parquet: {exc}") from None


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        try:
            return column.cast(pa.string())
        except pa.ArrowException:
            pass
    return pa.array([_scalar_text(v) for v in column.to_pylist()], pa.string())


def _read_parquet(data: bytes, path: Path) -> tuple[pd.DataFrame, list]:
    table = _parquet_table(data, path)
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    names = unique_names(table.column_names)
    check_names(names, str(path))
    table = pa.Table.from_arrays([_as_text(column) for column in table.columns], names=names)
    numbers = data_row_numbers(table.num_rows, [])
    table, numbers, bad = split_bad(table, numbers, screen_table(table))
    return text_frame(table, numbers), bad


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
    except (ValueError, RecursionError):
        # ValueError: not JSON, or an integer past Python's digit limit.
        return f"{column} is not a JSON array"
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return f"{column} is not a JSON array"
    try:
        rows = [_element_fields(element, column) for element in value]
    except (RecursionError, ValueError):
        return f"{column} is nested too deeply"
    if any(row is None for row in rows):
        return f"{column} holds an array inside an array"
    for row in rows:
        for value in row.values():  # type: ignore[union-attr]
            problem = cell_problems(value)
            if problem:
                return problem
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
