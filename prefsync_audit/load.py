"""Stage 1 — load: read every export file of a system into a table of text.

Every value is read as text (or missing): meaning is given later by the
mapping, so a reader never guesses types. Each table keeps provenance: the
file, its SHA-256, and the 1-based data row of every row (``__row``). Rows the
reader cannot use (a ragged CSV row, a JSONL line that is not JSON) are not
dropped: they come back in ``bad_rows`` with a reason, to be quarantined.
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
    """Expand the system's path patterns (globs allowed), in a stable order."""
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
    return list(dict.fromkeys(found))


def detect_format(path: Path, mapping: Mapping) -> FileFormat:
    if mapping.format:
        return mapping.format
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    raise InputError(f"{path}: cannot tell the file format; set 'format' in the mapping")


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it ends in ``.gz``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not a valid gzip file ({exc})") from None
    return data


def load_file(path: Path, mapping: Mapping, system: str, display: Path) -> RawTable:
    """Read one export file as text according to the mapping."""
    raw = path.read_bytes() if path.exists() else b""
    digest = hashlib.sha256(raw).hexdigest()
    data = read_bytes(path)
    fmt = detect_format(path, mapping)
    if fmt in ("csv", "tsv"):
        frame, bad = _read_delimited(data, path, mapping, fmt)
    elif fmt == "json":
        frame, bad = _read_json(data, path, mapping)
    elif fmt == "jsonl":
        frame, bad = _read_jsonl(data, path, mapping)
    else:
        frame, bad = _read_parquet(data, path)
    for column, pattern in mapping.file_name_fields.items():
        match = re.search(pattern, path.name)
        frame[column] = match.group(1) if match and match.groups() else pd.NA
    rows_read = len(frame) + len(bad)
    bad_rows = pd.DataFrame(
        {ROW: pd.Series([b[0] for b in bad], dtype="int64"), "reason": [b[1] for b in bad]}
    )
    return RawTable(system, display, digest, frame, rows_read, bad_rows)


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
