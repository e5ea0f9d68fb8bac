"""Read a system's table or query into a :class:`RawTable`, and check one without reading it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from prefsync_audit.config import DatabaseSource
from prefsync_audit.errors import AuditError, InputError
from prefsync_audit.load import ROW, RawTable, explode_frame
from prefsync_audit.mapping import Mapping
from prefsync_audit.sources._arrow import flatten, text_array, unique_names, unusable_reason
from prefsync_audit.sources._backends import Reader, open_reader, quote_identifier
from prefsync_audit.sources._url import DatabaseURL, mask_url, parse_url

# A table name: dot-separated parts, each a plain identifier or a quoted one.
_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\])'
_TABLE = re.compile(rf"^{_PART}(?:\.{_PART}){{0,2}}$")


@dataclass(frozen=True)
class DatabaseProvenance:
    """What a run records about a database source (``summary.json`` ``inputs``)."""

    url: str
    """The URL with its password masked."""
    table: str | None
    query: str
    """The SQL that was run: the configured query, or the one made for ``table``."""
    query_sha256: str
    label: str
    """How findings and messages name the source: ``<masked url>#<table>`` or ``#query``."""


def where_of(system: str) -> str:
    return f"systems.{system}.database"


def source_query(spec: DatabaseSource, mapping: Mapping, dialect: str) -> str:
    """The SQL run for ``spec``: its query as written, or ``SELECT * FROM <table>``,
    ordered by the mapping's ``record_id`` when it has one (so row numbers are stable)."""
    if spec.query is not None:
        return spec.query.strip()
    table = (spec.table or "").strip()
    query = f"SELECT * FROM {table}"
    if mapping.record_id:
        query += f" ORDER BY {quote_identifier(dialect, mapping.record_id)}"
    return query


def describe_database(system: str, spec: DatabaseSource, mapping: Mapping) -> DatabaseProvenance:
    """The provenance of a database source, from the config alone (nothing is opened).

    An environment variable that is not set leaves its reference in the shown
    URL (the password is masked either way).
    """
    try:
        url = parse_url(spec.url, f"{where_of(system)}.url")
        masked, dialect = url.masked, url.dialect
    except InputError:
        masked = mask_url(spec.url.strip())
        dialect = masked.split("://", 1)[0].split("+", 1)[0].lower()
    query = source_query(spec, mapping, dialect)
    anchor = spec.table.strip() if spec.table is not None else "query"
    return DatabaseProvenance(
        url=masked,
        table=spec.table.strip() if spec.table is not None else None,
        query=query,
        query_sha256=hashlib.sha256(query.encode("utf-8")).hexdigest(),
        label=f"{masked}#{anchor}",
    )


def mapped_columns(mapping: Mapping) -> dict[str, list[str]]:
    """Column → where the mapping reads it (``identifiers.email``…), alternatives split."""
    used: dict[str, list[str]] = {}
    for where, column in mapping.columns_used():
        for name in column.split(" or "):
            used.setdefault(name, []).append(where)
    if mapping.explode:
        used.setdefault(mapping.explode, []).append("explode")
        used = {
            name: places
            for name, places in used.items()
            if not name.startswith(mapping.explode + ".")
        }
    return used


def _check_table(spec: DatabaseSource, system: str) -> None:
    if spec.table is not None and not _TABLE.match(spec.table.strip()):
        raise InputError(
            f"{where_of(system)}.table: {spec.table!r} is not a table name "
            "(name, schema.name or a quoted name; use 'query' for anything else)"
        )


def _open(
    system: str, spec: DatabaseSource, base_dir: Path, allow_outside_paths: bool
) -> tuple[DatabaseURL, Reader]:
    where = where_of(system)
    _check_table(spec, system)
    url = parse_url(spec.url, f"{where}.url")
    return url, open_reader(url, base_dir, where, allow_outside_paths)


def read_database(
    system: str,
    spec: DatabaseSource,
    mapping: Mapping,
    base_dir: Path,
    allow_outside_paths: bool = False,
) -> RawTable:
    """Run the system's query (or read its table) and return the rows as text.

    Batches are converted to text as they arrive. A column the mapping reads
    whose type cannot be text (binary, interval…) is an error; such a column the
    mapping does not read is left out. ``sha256`` is that of the query text, and
    ``path`` is the source's label (masked URL ``#table`` or ``#query``).
    """
    where = where_of(system)
    url, reader = _open(system, spec, base_dir, allow_outside_paths)
    provenance = describe_database(system, spec, mapping)
    used = mapped_columns(mapping)
    chunks: dict[str, list[pa.Array]] = {}
    dropped: set[str] = set()
    names: list[str] = []
    rows = 0
    try:
        for batch in reader.batches(provenance.query, spec.batch_rows):
            batch = flatten(batch.rename_columns(unique_names(batch.column_names)))
            for name in batch.column_names:
                if name not in chunks:
                    # A column first seen in a later batch (a DB-API column all NULL
                    # until then may become a struct): earlier rows had no value.
                    names.append(name)
                    chunks[name] = [pa.nulls(rows, pa.string())] if rows else []
            for name in set(names) - set(batch.column_names):
                chunks[name].append(pa.nulls(batch.num_rows, pa.string()))
            rows += batch.num_rows
            for name, column in zip(batch.column_names, batch.columns, strict=True):
                problem = unusable_reason(column.type)
                if problem and name in used:
                    raise InputError(
                        f"{where}: column {name!r} (mapping {', '.join(used[name])}) has type "
                        f"{problem}, which cannot be read as text ({url.masked})"
                    )
                if problem or name in dropped:
                    dropped.add(name)
                    continue
                chunks[name].append(text_array(column.combine_chunks()))
    except AuditError:
        raise
    except reader.errors as exc:
        raise InputError(f"{where}: query failed on {url.masked}: {_detail(url, exc)}") from None
    finally:
        reader.close()
    frame = _text_frame({n: chunks[n] for n in names if n not in dropped})
    frame.insert(0, ROW, pd.Series(range(1, rows + 1), dtype="int64"))
    bad: list[tuple[int, str]] = []
    if mapping.explode:
        frame, bad = explode_frame(frame, mapping.explode)
    bad_rows = pd.DataFrame(
        {ROW: pd.Series([b[0] for b in bad], dtype="int64"), "reason": [b[1] for b in bad]}
    )
    return RawTable(
        system,
        provenance.label,  # type: ignore[arg-type]  # a label, not a file path
        provenance.query_sha256,
        frame,
        rows,
        bad_rows,
    )


def _text_frame(chunks: dict[str, list[pa.Array]]) -> pd.DataFrame:
    """Text columns as object columns holding ``str`` or ``None`` (as ``load`` gives)."""
    columns = {
        name: pa.chunked_array(parts, pa.string()) if parts else pa.chunked_array([], pa.string())
        for name, parts in chunks.items()
    }
    frame = pd.DataFrame(
        {
            name: pd.Series(column.to_numpy(zero_copy_only=False), dtype="object")
            for name, column in columns.items()
        }
    )
    if not len(columns):
        return pd.DataFrame(index=pd.RangeIndex(0))
    return frame.where(frame.notna(), None)


def check_database(
    system: str,
    spec: DatabaseSource,
    mapping: Mapping,
    base_dir: Path,
    allow_outside_paths: bool = False,
) -> list[str]:
    """Problems with a database source, found without reading a row: the URL and its
    environment variables, the connection, whether the query runs, and whether every
    column the mapping reads is in the result with a type readable as text."""
    where = where_of(system)
    try:
        url, reader = _open(system, spec, base_dir, allow_outside_paths)
    except AuditError as exc:
        return [str(exc)]
    provenance = describe_database(system, spec, mapping)
    try:
        columns = reader.probe(provenance.query)
    except reader.errors as exc:
        return [f"{where}: query failed on {url.masked}: {_detail(url, exc)}"]
    finally:
        reader.close()
    found = {c.name: c for c in columns}
    problems = []
    for place, column in mapping.columns_used():
        if mapping.explode and column.startswith(mapping.explode + "."):
            continue
        alternatives = column.split(" or ")
        present = [found[name] for name in alternatives if name in found]
        if not present:
            problems.append(
                f"{provenance.label}: column {column!r} (mapping {place}, system {system}) "
                "is not in the query result"
            )
        for probed in present:
            if probed.problem:
                problems.append(
                    f"{provenance.label}: column {probed.name!r} (mapping {place}, system "
                    f"{system}) has type {probed.problem}, which cannot be read as text"
                )
    return problems


def _detail(url: DatabaseURL, exc: BaseException) -> str:
    """The driver's own message (SQLAlchemy wraps it in ``orig``), scrubbed, one line."""
    return url.scrub(getattr(exc, "orig", None) or exc)
