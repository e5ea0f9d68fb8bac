"""Arrow tables to text frames, and the cells no export row may hold.

Readers parse with Arrow and hand the pipeline a pandas frame of text (Python
``str`` or ``None``). Exports repeat values a lot (statuses, dates, flags), so
a column whose values repeat is dictionary-encoded first and equal values
share one ``str`` object: a column of a million ``"true"``/``"false"`` cells
costs a million pointers, not a million strings. A frame read for mapping
(``arrow_distinct``) goes further: such a column stays a categorical of those
codes, which the mapper looks up per distinct value without hashing a row.

A row is unusable, and comes back as a bad row with a reason, when one of its
values holds a NUL byte (a corrupt or binary file) or is longer than
:data:`MAX_FIELD_BYTES` (a runaway quote or a blob, which would otherwise end
up in reports). The reason never quotes the value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from prefsync_audit._codes import SAMPLE, arrow_text, as_objects, code_type, dictionary_encoded
from prefsync_audit.errors import InputError

#: The provenance column every loaded frame carries: the 1-based data row.
ROW = "__row"

#: The longest value (UTF-8 bytes) a row may hold; longer ones quarantine the row.
MAX_FIELD_BYTES = 256 * 1024

NUL_REASON = "a value holds a NUL byte"
LONG_REASON = f"a value is longer than {MAX_FIELD_BYTES} bytes"
#: A JSON escape such as ``\udc80`` alone is valid JSON but no text.
SURROGATE_REASON = "a value holds an unpaired surrogate escape (not Unicode text)"

#: A bad row: its 1-based data row and the reason.
BadRow = tuple[int, str]


def check_names(names: Sequence[str], where: str) -> None:
    """Refuse a column the loader itself needs (``__row``) or one naming a NUL."""
    if ROW in names:
        raise InputError(f"{where}: a column is named {ROW!r}, a name prefsync-audit reserves")
    if any("\x00" in name for name in names):
        raise InputError(f"{where}: a column name holds a NUL byte (a binary or UTF-16 file?)")


def cell_problems(value: str | None) -> str | None:
    """The reason one text value makes its row unusable, if any."""
    if value is None:
        return None
    if "\x00" in value:
        return NUL_REASON
    if value.isascii():
        return LONG_REASON if len(value) > MAX_FIELD_BYTES else None
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_REASON
    if len(encoded) > MAX_FIELD_BYTES:
        return LONG_REASON
    return None


def screen_table(table: pa.Table, nul: bool = True, long: bool = True) -> np.ndarray | None:
    """Per row of ``table`` (string columns), the reason it is unusable or ``None``;
    ``None`` overall when every row is fine. ``nul``/``long``: which checks to run
    (a caller that knows its bytes hold no NUL can skip that scan)."""
    reasons: np.ndarray | None = None
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        for check, reason in ((long, LONG_REASON), (nul, NUL_REASON)):
            if not check or column.null_count == len(column):
                continue
            if reason is LONG_REASON:
                flagged = pc.greater(pc.binary_length(column), MAX_FIELD_BYTES)
            else:
                flagged = pc.match_substring(column, "\x00")
            flagged = pc.fill_null(flagged, False)
            if not pc.any(flagged).as_py():
                continue
            mask = flagged.to_numpy(zero_copy_only=False).astype(bool)
            if reasons is None:
                reasons = np.full(len(table), None, dtype=object)
            reasons[mask & pd.isna(reasons)] = reason
    return reasons


def data_row_numbers(total: int, bad_numbers: Sequence[int]) -> np.ndarray:
    """The 1-based numbers of the good rows among ``total`` data rows."""
    numbers = np.arange(1, total + 1, dtype="int64")
    if len(bad_numbers):
        numbers = np.delete(numbers, np.asarray(bad_numbers, dtype="int64") - 1)
    return numbers


def _repeats(array: pa.Array | pa.ChunkedArray) -> bool:
    """Whether the column's values repeat (statuses, flags, dates) rather than
    being mostly distinct (emails, ids, times), judged as
    :func:`~prefsync_audit._codes.mostly_distinct` judges a pandas column: on a
    sample spread over the whole column, missing values left out. The leading
    rows alone mislead: an export that lists each person's consents together
    repeats every identifier there, and a dictionary of millions of ids costs
    more than it shares."""
    sample = _spread_sample(array).drop_null()
    return len(pc.unique(sample)) <= len(sample) // 2


def _spread_sample(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """About :data:`SAMPLE` values, evenly spaced. A reader's column comes in
    hundreds of blocks, and ``take`` on them would join them all first: each
    block gives its own rows."""
    rows = np.arange(0, len(array), max(len(array) // SAMPLE, 1))
    if isinstance(array, pa.Array):
        return array.take(pa.array(rows))
    chunks = [chunk for chunk in array.chunks if len(chunk)]
    starts = np.cumsum([0, *(len(chunk) for chunk in chunks)])
    block_of_row = np.searchsorted(starts, rows, side="right") - 1
    parts = [
        chunks[block].take(pa.array(rows[block_of_row == block] - starts[block]))
        for block in np.unique(block_of_row)
    ]
    return pa.concat_arrays(parts) if parts else pa.array([], array.type)


def _shared_text(array: pa.Array) -> np.ndarray:
    """Object array of ``str``/``None``; a column that repeats its values is
    dictionary-encoded so equal values share one object."""
    if not _repeats(array):
        # Sharing would only cost time.
        return array.to_numpy(zero_copy_only=False)
    return as_objects(_categorical_text(pa.chunked_array([array]))).to_numpy()


def _categorical_text(column: pa.ChunkedArray) -> pd.Series:
    """A column of repeated values as a categorical of its distinct values
    (missing values: code -1), in the narrowest code type."""
    chunks = [chunk for chunk in dictionary_encoded(column).chunks if len(chunk)]
    dictionary = chunks[0].dictionary
    codes = np.concatenate(
        [pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False) for chunk in chunks]
    )
    categories = pd.Index(dictionary.to_numpy(zero_copy_only=False), dtype=object)
    return pd.Series(
        pd.Categorical.from_codes(codes.astype(code_type(len(categories))), categories=categories)
    )


def _text_column(column: pa.ChunkedArray, arrow_distinct: bool) -> pd.Series:
    """One column as text: ``str``/``None`` objects, or (``arrow_distinct``)
    pandas' Arrow-backed ``str`` dtype for a column of mostly distinct values
    and a categorical for one of repeated values."""
    if column.null_count == len(column):
        return pd.Series(np.full(len(column), None, dtype=object), dtype="object")
    if arrow_distinct:
        if _repeats(column):
            # Codes, not a row of pointers to shared strings: the mapper looks
            # values up per distinct value and would only factorize them again.
            return _categorical_text(column)
        # Each value its own Python string would cost about 60 bytes more than
        # its text, and every later step would pay to convert it back to Arrow.
        # One chunk (64-bit offsets, as pandas keeps text): taking rows from the
        # reader's hundreds of blocks costs many times more.
        return arrow_text(column.cast(pa.large_string()).combine_chunks())
    try:
        values = _shared_text(column.combine_chunks())
    except (pa.ArrowInvalid, pa.ArrowCapacityError):
        # Over 2 GiB of text in one column: share values within each chunk only.
        parts = [_shared_text(chunk) for chunk in column.chunks if len(chunk)]
        values = np.concatenate(parts) if parts else np.empty(0, dtype=object)
    return pd.Series(values, dtype="object")


def text_frame(table: pa.Table, numbers: np.ndarray, arrow_distinct: bool = False) -> pd.DataFrame:
    """``table`` (string columns) as a frame of text with ``__row`` first.

    ``arrow_distinct``: keep columns of mostly distinct values in Arrow (pandas'
    ``str`` dtype, missing values NaN) and columns of repeated values as
    categoricals, instead of Python objects."""
    columns = dict(zip(table.column_names, table.columns, strict=True))
    return columns_as_text(columns, numbers, arrow_distinct)


def columns_as_text(
    columns: dict[str, pa.ChunkedArray], numbers: np.ndarray, arrow_distinct: bool = False
) -> pd.DataFrame:
    """:func:`text_frame` of the columns of a table, taken out of ``columns`` one
    at a time: where the dict holds the only reference to a column, the column
    is freed as soon as its text is made, rather than every column of a file of
    gigabytes staying until the last is done (5M persons: the OneTrust export
    alone peaked at 5.7 GiB that way)."""
    texts: dict[str, object] = {ROW: pd.Series(numbers, dtype="int64")}
    for name in list(columns):
        texts[name] = _text_column(columns.pop(name), arrow_distinct)
    return pd.DataFrame(texts)


def split_bad(
    table: pa.Table, numbers: np.ndarray, reasons: np.ndarray | None
) -> tuple[pa.Table, np.ndarray, list[BadRow]]:
    """Move the rows with a reason out of ``table`` into bad rows."""
    if reasons is None:
        return table, numbers, []
    flagged = ~pd.isna(reasons)
    bad = [(int(n), str(r)) for n, r in zip(numbers[flagged], reasons[flagged], strict=True)]
    keep = pa.array(~flagged)
    return table.filter(keep), numbers[~flagged], bad
