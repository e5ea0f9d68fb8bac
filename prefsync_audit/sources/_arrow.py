"""Query results to text, column by column, the way ``load`` reads Parquet.

Every value becomes text (or missing), so a mapping applies to a query result
exactly as to an export file: booleans ``true``/``false``, numbers and
decimals as written, dates ``YYYY-MM-DD``, timestamps ISO 8601
(``2026-01-14T09:12:40Z`` for a zoned timestamp, no zone for a naive one, so
the mapping's ``timezone`` applies as it does to a file), structs flattened to
``column.field``, arrays and JSON as JSON text, UUIDs in their usual spelling.

Conversions are Arrow compute kernels over whole batches; no value is turned
into a Python object. Batches from a DB-API driver (rows as tuples) are
turned into Arrow arrays column by column first (:func:`batch_from_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_UUID = "arrow.uuid"
_HEX = np.array(list("0123456789abcdef"))


def unusable_reason(dtype: pa.DataType) -> str | None:
    """Why a column of ``dtype`` cannot be read as text (None when it can)."""
    if isinstance(dtype, pa.BaseExtensionType):
        if dtype.extension_name == _UUID:
            return None
        return unusable_reason(dtype.storage_type)
    if (
        pa.types.is_binary(dtype)
        or pa.types.is_large_binary(dtype)
        or pa.types.is_fixed_size_binary(dtype)
        or pa.types.is_binary_view(dtype)
    ):
        return str(dtype)
    if (
        pa.types.is_duration(dtype)
        or pa.types.is_interval(dtype)
        or pa.types.is_map(dtype)
        or pa.types.is_union(dtype)
    ):
        return str(dtype)
    if _is_list(dtype):
        value = dtype.value_type
        if pa.types.is_struct(value):
            return f"an array of records ({dtype})"
        return unusable_reason(value)
    if pa.types.is_struct(dtype):
        for child in dtype:
            reason = unusable_reason(child.type)
            if reason:
                return reason
    return None


def _is_list(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_list(dtype)
        or pa.types.is_large_list(dtype)
        or pa.types.is_fixed_size_list(dtype)
        or pa.types.is_list_view(dtype)
        or pa.types.is_large_list_view(dtype)
    )


def flatten(table: pa.Table) -> pa.Table:
    """Struct columns as ``column.field`` columns, recursively (as for Parquet)."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def text_array(array: pa.Array) -> pa.Array:
    """One column as a UTF-8 string array (nulls stay null).

    ``array`` must be of a usable type (see :func:`unusable_reason`).
    """
    dtype = array.type
    if isinstance(dtype, pa.BaseExtensionType):
        if dtype.extension_name == _UUID:
            return _uuid_text(array.storage)
        return text_array(array.storage)
    if pa.types.is_null(dtype):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_dictionary(dtype):
        return text_array(array.dictionary_decode())
    if pa.types.is_timestamp(dtype):
        return _timestamp_text(array)
    if _is_list(dtype):
        return _list_json(array)
    return array.cast(pa.string())


def text_columns(table: pa.Table | pa.RecordBatch) -> dict[str, pa.Array]:
    """Every column of a (flattened) batch as text."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    return {
        name: text_array(column.combine_chunks())
        for name, column in zip(table.column_names, table.columns, strict=True)
    }


def _timestamp_text(array: pa.Array) -> pa.Array:
    zoned = array.type.tz is not None
    if zoned:
        array = array.cast(pa.timestamp(array.type.unit, "UTC"))
    text = pc.strftime(array, format="%Y-%m-%dT%H:%M:%S")
    text = pc.replace_substring_regex(text, pattern=r"\.0+$", replacement="")
    if zoned:
        text = pc.binary_join_element_wise(text, "Z", "")
    return text


def _uuid_text(storage: pa.Array) -> pa.Array:
    """16-byte UUIDs as ``8-4-4-4-12`` lowercase hex, vectorized with numpy."""
    n = len(storage)
    if n == 0:
        return pa.array([], pa.string())
    data = storage.buffers()[1]
    raw = np.frombuffer(data, dtype=np.uint8)[storage.offset * 16 : (storage.offset + n) * 16]
    raw = raw.reshape(n, 16)
    chars = np.stack([_HEX[raw >> 4], _HEX[raw & 15]], axis=2).reshape(n, 32)
    dash = np.full((n, 1), "-")
    parts = [chars[:, :8], dash, chars[:, 8:12], dash, chars[:, 12:16], dash, chars[:, 16:20]]
    full = np.ascontiguousarray(np.concatenate([*parts, dash, chars[:, 20:]], axis=1))
    text = full.view("<U36").ravel()
    return pa.array(text, pa.string(), mask=storage.is_null().to_numpy(zero_copy_only=False))


def _json_quote(text: pa.Array) -> pa.Array:
    for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = pc.replace_substring(text, old, new)
    return pc.binary_join_element_wise('"', text, '"', "")


def _list_json(array: pa.Array) -> pa.Array:
    """Arrays as JSON text (``["a", "b"]``, ``[1, 2]``), as ``load`` writes list values."""
    if pa.types.is_fixed_size_list(array.type) or "view" in str(array.type):
        array = array.cast(pa.list_(array.type.value_type))
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32)
    values = pc.list_flatten(array)
    value_type = values.type
    text = text_array(values)
    if not (
        pa.types.is_integer(value_type)
        or pa.types.is_floating(value_type)
        or pa.types.is_decimal(value_type)
        or pa.types.is_boolean(value_type)
        or _is_list(value_type)
    ):
        text = _json_quote(text)
    text = pc.fill_null(text, "null")
    lists = pa.ListArray.from_arrays(pa.array(offsets), text, mask=array.is_null())
    joined = pc.binary_join(lists, ", ")
    return pc.binary_join_element_wise("[", joined, "]", "")


def batch_from_rows(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """A DB-API ``fetchmany`` result as an Arrow table, one array per column.

    Arrow infers each column's type from the driver's values; a column whose
    values do not share one type (SQLite allows ``1``, ``'x'`` and ``2.5`` in one
    column) is read as text instead, and one holding bytes among other values
    as binary, so that it is reported as unreadable. JSON objects (dicts, as
    psycopg returns ``jsonb``) become JSON text, as the ADBC driver gives them.
    """
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [_python_column(values) for values in columns]
    return pa.Table.from_arrays(arrays, names=list(names))


def _python_column(values: Sequence[Any]) -> pa.Array:
    try:
        array = pa.array(values)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        pass
    else:
        if not _holds_records(array.type):
            return array
        # JSON objects (psycopg's json/jsonb): JSON text, as the ADBC driver gives them.
        return pa.array(
            [
                None
                if v is None
                else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                for v in values
            ],
            pa.string(),
        )
    series = pd.Series(values, dtype="object")
    kinds = set(series.map(type))
    if kinds & {bytes, bytearray, memoryview}:
        return pa.nulls(len(values), pa.binary())
    text = series.astype(str)
    booleans = series.map(type).eq(bool)
    if booleans.any():
        text[booleans] = np.where(series[booleans].astype(bool), "true", "false")
    text[series.isna()] = None
    return pa.array(text.to_numpy(dtype=object), pa.string())


def _holds_records(dtype: pa.DataType) -> bool:
    if pa.types.is_struct(dtype) or pa.types.is_map(dtype):
        return True
    return _is_list(dtype) and _holds_records(dtype.value_type)


def unique_names(names: Sequence[str]) -> list[str]:
    """Repeated column names (``SELECT a.email, b.email``) become ``email``, ``email#2``."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return unique
