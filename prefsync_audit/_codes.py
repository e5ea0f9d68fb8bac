"""Columns as integer codes, text tests run once per distinct value, and the
ASCII helpers the vectorized normalizers share.

Stages that count or test text columns (metrics, the policy's evidence test)
work on the codes of the distinct values: exports repeat statuses, sources and
keys, so a test on the distinct values and a lookup by code replace a test on
every row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: What Python's ``str.strip()`` removes from ASCII text (RE2's ``\s`` knows fewer).
ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
#: The same characters as a regular-expression class body.
SPACE_CLASS = r" \t\n\r\x0b\x0c\x1c-\x1f"
#: Values sampled to tell a column of repeated values from a column of ids.
SAMPLE = 4096
#: Rows factorized at a time (see ``factorized_in_blocks``).
BLOCK = 1 << 16


def code_type(size: int) -> type[np.signedinteger]:
    """The narrowest integer type holding the codes -1 … size."""
    for candidate in (np.int8, np.int16, np.int32):
        if size < np.iinfo(candidate).max:
            return candidate
    return np.int64


def dense_bound(values: np.ndarray) -> int | None:
    """``max + 1`` of integers that can index a table of at most twice their
    number (person ids, or person ids times a few codes); None for others.

    Such values are counted or deduplicated through a table rather than a hash
    table, which over millions of mostly distinct values misses the cache on
    nearly every row."""
    if values.dtype.kind not in "iu" or not len(values):
        return None
    bound = int(values.max()) + 1
    return bound if values.min() >= 0 and bound <= 2 * len(values) else None


def isin_integers(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``np.isin`` for integers: through a table of flags over their range when it
    is at most twice as wide as the values and members together (a batch of
    persons' keys), else a hash lookup."""
    if not len(values) or not len(members):
        return np.zeros(len(values), dtype=bool)
    low = min(int(values.min()), int(members.min()))
    width = max(int(values.max()), int(members.max())) - low + 1
    if width > 2 * (len(values) + len(members)):
        return pd.Series(values).isin(members).to_numpy()
    flags = np.zeros(width, dtype=bool)
    flags[members - low] = True
    return flags[values - low]


def first_occurrences(values: np.ndarray) -> np.ndarray:
    """Mask of the first row of each distinct value (integers; through a table
    when they are dense, see ``dense_bound``)."""
    if not len(values):
        return np.zeros(0, dtype=bool)
    bound = dense_bound(values)
    if bound is None:
        return ~pd.Series(values).duplicated().to_numpy()
    rows = np.arange(len(values), dtype=code_type(len(values)))
    first_row = np.full(bound, len(values), dtype=rows.dtype)
    np.minimum.at(first_row, values, rows)
    first = np.zeros(len(values), dtype=bool)
    first[first_row[first_row < len(values)]] = True
    return first


def positions_in_sorted(sorted_table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position of each value in ``sorted_table`` (ascending), -1 where it is
    not there. A binary search: for values sorted too it walks the table in
    order, where a hash index over tens of millions of keys misses the cache on
    nearly every row."""
    if not len(sorted_table):
        return np.full(len(values), -1, dtype=np.intp)
    at = np.searchsorted(sorted_table, values)
    np.minimum(at, len(sorted_table) - 1, out=at)
    at[sorted_table[at] != values] = -1
    return at


def lookup(table: np.ndarray, codes: np.ndarray, missing: Any) -> np.ndarray:
    """``table[codes]``, with ``missing`` where a code is -1 (of the table's type)."""
    return np.concatenate([table, np.array([missing], dtype=table.dtype)])[codes]


def column_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: missing) and the values they stand for; a categorical's own codes."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), np.asarray(column.cat.categories, dtype=object)
    if column.dtype == object and len(column) > BLOCK:
        blocked = factorized_in_blocks(column.to_numpy())
        if blocked is not None:
            return blocked
    codes, uniques = pd.factorize(column)
    return codes, np.asarray(uniques, dtype=object)


def factorized_in_blocks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``pd.factorize`` of a column of few distinct values, block by block: the same
    codes, narrow, without a hash table sized for a column of distinct values. None
    when the values are not few."""
    codes = np.empty(len(values), dtype=np.int8)
    seen: dict[Any, int] = {}
    for start in range(0, len(values), BLOCK):
        block_codes, uniques = pd.factorize(values[start : start + BLOCK])
        # Codes in order of first appearance, as pd.factorize numbers them.
        table = [seen.setdefault(value, len(seen)) for value in uniques]
        if len(seen) >= np.iinfo(np.int8).max:
            return None
        codes[start : start + BLOCK] = np.array([*table, -1], dtype=np.int8)[block_codes]
    return codes, np.fromiter(seen, dtype=object, count=len(seen))


def mostly_distinct(values: pd.Series) -> bool:
    """Whether a spread sample of the column's values is mostly distinct (ids,
    times) rather than repeated (statuses, sources)."""
    sample = values.iloc[:: max(len(values) // SAMPLE, 1)].dropna()
    return sample.nunique() > len(sample) // 2


def filled(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """Per value: selected by ``rows`` and non-blank after stripping whitespace
    (a missing value is blank)."""
    if not mostly_distinct(values):
        # Values repeat: test each distinct value once (same answers, less text work).
        codes, distinct = column_codes(values)
        if values.dtype != object or pd.api.types.infer_dtype(distinct) == "string":
            return rows & lookup(non_blank(pd.Series(distinct)), codes, False)
        # Else equal values of different types (1, 1.0) could read differently as text.
    filled = np.zeros(len(values), dtype=bool)
    filled[rows] = non_blank(values[rows])
    return filled


def non_blank(values: pd.Series) -> np.ndarray:
    """``values.astype("string").str.strip().fillna("").ne("")`` as an array."""
    if in_arrow(values):
        # Already Arrow text: the kernel runs on it as it is.
        non_blank = pc.not_equal(pc.utf8_trim_whitespace(pa.array(values)), "")
        return pc.fill_null(non_blank, False).to_numpy(zero_copy_only=False)
    if (
        values.dtype == object
        and pd.api.types.pandas_dtype("string").storage == "pyarrow"
        and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    ):
        # Text only: the same Arrow kernel that expression runs, without pandas
        # first copying and checking every value.
        try:
            text = pa.array(values.to_numpy(), type=pa.large_string(), from_pandas=True)
        except (pa.ArrowException, UnicodeError):
            pass
        else:
            non_blank = pc.not_equal(pc.utf8_trim_whitespace(text), "")
            return pc.fill_null(non_blank, False).to_numpy(zero_copy_only=False)
    return values.astype("string").str.strip().fillna("").ne("").to_numpy(dtype=bool)


def ascii_stripped(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Which values are ASCII, and every value stripped as ``str.strip()`` strips
    ASCII text. Vectorized paths decide the ASCII values and leave the rest to
    Python, whose Unicode rules Arrow's do not always match."""
    ascii_text = pc.fill_null(pc.string_is_ascii(texts), False).to_numpy(zero_copy_only=False)
    return ascii_text, pc.utf8_trim(texts, characters=ASCII_SPACE)


def in_arrow(column: pd.Series) -> bool:
    """Whether the column is text in Arrow (pandas' ``str`` dtype on pyarrow)."""
    return isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"


def as_objects(column: pd.Series) -> pd.Series:
    """A categorical column as ``str``/``None`` objects; another column as it is."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column
    values = np.append(np.asarray(column.cat.categories, dtype=object), None)
    return pd.Series(values[column.cat.codes.to_numpy()], index=column.index, dtype="object")


def objects(values: pa.Array) -> np.ndarray:
    """An Arrow array as a numpy object array (``str`` and ``None``)."""
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)


def arrow_text(values: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """Arrow text as pandas' ``str`` (missing values NaN), in one chunk, without
    converting a value to a Python string."""
    series = pa.chunked_array([values]).to_pandas()
    if index is not None:
        series.index = index
    return series


def dictionary_encoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` dictionary-encoded, chunk by chunk, every chunk against one
    dictionary: Arrow encodes a chunked column so; unified where it did not,
    to stay exact."""
    encoded = pc.dictionary_encode(column)
    dictionaries = {
        tuple(buffer.address if buffer else None for buffer in chunk.dictionary.buffers())
        for chunk in encoded.chunks
    }
    return encoded.unify_dictionaries() if len(dictionaries) > 1 else encoded
