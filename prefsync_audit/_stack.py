"""Stacking the per-file canonical tables into one, column by column.

``pd.concat`` of a list of frames holds every input and the whole output at
once: at a million persons that doubled the memory of the canonical tables
for a moment, and it was the run's highest point. Stacking one column at a
time, and letting go of each input column as soon as it is copied, holds the
inputs plus one output column instead.

Columns of repeated text (system, preference key parts, states, raw values,
source columns, capture sources, file names) come out categorical, and
columns of ids (proofs, record ids) as Arrow-backed text: as Python strings
they would cost about 60 bytes per row more whenever a file's values arrive
as separate string objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from prefsync_audit._codes import arrow_text, code_type, column_codes, lookup


def stack_columns(
    parts: list[pd.DataFrame],
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str] | None],
    text: Sequence[str] = (),
) -> pd.DataFrame:
    """Concatenate ``parts`` into one frame of ``columns`` (a part without one
    of them has missing values there).

    A column named in ``categories`` is categorical, with the categories given
    or, for ``None``, the sorted distinct values (sorting and grouping then
    follow the text, as they would on strings). A column named in ``text``
    (mostly distinct values: ids) is pandas' Arrow-backed ``str``, missing
    values NaN. ``parts`` are emptied: each input column is dropped once it is
    copied, so its memory can be reused.
    """
    stacked: dict[str, pd.Series] = {}
    missing_text = _MissingText(max((len(part) for part in parts), default=0))
    for name in columns:
        pieces = [
            part.pop(name)
            if name in part
            else (missing_text.rows(len(part)) if name in text else _missing(len(part)))
            for part in parts
        ]
        if name in categories:
            column = _categorical(pieces, categories[name])
        else:
            if name in text:
                # Converted piece by piece: text in Arrow concatenates without
                # becoming Python objects, as a mix of Arrow and objects would.
                pieces = [piece.astype("str") for piece in pieces]
            column = pd.concat(pieces, ignore_index=True) if pieces else pd.Series(dtype=object)
        del pieces
        stacked[name] = column
    return pd.DataFrame(stacked)


def constant_column(value: str | None, length: int) -> pd.Categorical:
    """``length`` rows of ``value`` (a file's system or name, a rule's key part;
    None: missing) as a categorical of that one value: :func:`stack_columns`
    joins it by its codes, where a column of strings would be hashed row by row
    (31M rows at 5M persons)."""
    if value is None:
        return pd.Categorical.from_codes(np.full(length, -1, dtype=np.int8), categories=[])
    return pd.Categorical.from_codes(np.zeros(length, dtype=np.int8), categories=[value])


def _missing(length: int) -> pd.Series:
    """A column a part lacks, all missing."""
    return pd.Series([None] * length, dtype=object)


class _MissingText:
    """Text columns a part lacks, all missing, in Arrow (a column of ``None``
    objects would cost as much to convert as real text), every one a slice of
    one array of missing values. Each its own array would hold offsets of 8
    bytes a row: most parts lack most identifier kinds, and such pieces took
    0.21 of the 0.50 GiB of the records' text at 1M persons."""

    def __init__(self, longest: int) -> None:
        self._longest = longest
        self._nulls: pa.Array | None = None

    def rows(self, length: int) -> pd.Series:
        if self._nulls is None:
            self._nulls = pa.nulls(self._longest, pa.large_string())
        return arrow_text(self._nulls.slice(0, length))


def _categorical(pieces: list[pd.Series], categories: Sequence[str] | None) -> pd.Series:
    # Each piece is coded as it is (Arrow text, objects or categories: a piece
    # read as Arrow text never becomes Python strings, as it would when
    # concatenated with a piece of objects), and the codes are joined through
    # the distinct values of all pieces.
    # Only the values some row holds: a categorical piece may carry categories no
    # row of it has left (rows a rule did not keep), and the categories must not
    # depend on how the rows were split.
    coded = [_used(*column_codes(piece)) for piece in pieces]
    joined, distinct = pd.factorize(
        np.concatenate([uniques for _, uniques in coded]) if coded else np.array([], dtype=object)
    )
    distinct = np.asarray(distinct, dtype=object)
    # Then the categories: sorted, or the given ones (a value outside them is
    # missing, as pd.Categorical makes it).
    if categories is None:
        try:
            order = np.argsort(distinct, kind="stable")
        except TypeError:  # values of several types: let pandas order them
            codes = _piece_codes(coded, joined)
            return pd.Series(distinct[codes]).where(codes >= 0).astype("category")
        categories = list(distinct[order])
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
    else:
        position = pd.Index(list(categories), dtype=object).get_indexer(distinct)
    # Each piece's codes are looked up once, straight to the categories' codes in
    # the narrowest type (one byte a row for a few categories): tens of millions
    # of rows at millions of persons.
    category_of = position.astype(code_type(len(categories)))[joined]
    return pd.Series(
        pd.Categorical.from_codes(_piece_codes(coded, category_of), categories=list(categories))
    )


def _piece_codes(coded: list[tuple[np.ndarray, np.ndarray]], table: np.ndarray) -> np.ndarray:
    """Every piece's codes, each looked up in its stretch of ``table`` (indexed by
    the pieces' distinct values end to end), joined; -1 stays -1."""
    starts = np.cumsum([0, *(len(uniques) for _, uniques in coded)])
    return np.concatenate(
        [
            lookup(table[start : start + len(uniques)], piece_codes, -1)
            for (piece_codes, uniques), start in zip(coded, starts[:-1], strict=True)
        ]
        or [np.array([], dtype=table.dtype)]
    )


def _used(codes: np.ndarray, uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` and ``uniques`` without the values no code points to."""
    seen = np.zeros(len(uniques) + 1, dtype=bool)
    seen[codes] = True  # a code -1 marks the extra last place
    used = seen[:-1]
    if used.all():
        return codes, uniques
    renumbered = (np.cumsum(used) - 1).astype(code_type(int(used.sum())))
    return lookup(renumbered, codes, -1), uniques[used]
