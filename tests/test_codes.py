"""Column codes and text tests on distinct values (``prefsync_audit._codes``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from prefsync_audit import _codes


@pytest.mark.parametrize(
    "values",
    [
        ["id-1", " id-2 ", "", " ", "\t\n", "\x1c", "\x85", "\u00a0", "\u3000x", None, np.nan],
        ["ok", pd.NA, None, "  "],
        ["text", 1, 0.0, b"", None],  # not all text: pandas' own conversion decides
        [None, np.nan],
    ],
)
def test_non_blank_is_the_pandas_strip_test(values):
    series = pd.Series(values, dtype=object)
    expected = series.astype("string").str.strip().fillna("").ne("").to_numpy(dtype=bool)
    np.testing.assert_array_equal(_codes.non_blank(series), expected)


@pytest.mark.parametrize("dtype", ["str", "string"])
def test_non_blank_of_arrow_text_is_the_pandas_strip_test(dtype):
    values = ["id-1", " id-2 ", "", " ", "\t\n", "\x1c", "\x85", "\u00a0", "\u3000x", None]
    series = pd.Series(values * 3, dtype=dtype)
    expected = series.astype("string").str.strip().fillna("").ne("").to_numpy(dtype=bool)
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(_codes.non_blank(series), expected)


@pytest.mark.parametrize("sample", [4096, 1])
def test_filled_reads_only_the_chosen_rows_and_agrees_with_pandas(monkeypatch, sample):
    monkeypatch.setattr(_codes, "SAMPLE", sample)
    values = pd.Series(["web", " ", None, "app", "web", "\t"] * 50, dtype=object)
    rows = np.arange(len(values)) % 3 != 0
    expected = values.astype("string").str.strip().fillna("").ne("").to_numpy(dtype=bool) & rows
    np.testing.assert_array_equal(_codes.filled(values, rows), expected)


def test_column_codes_of_text_and_categoricals():
    text = pd.Series(["b", "a", None, "b"] * 20_000, dtype=object)
    codes, values = _codes.column_codes(text)
    assert values[codes[:4][[0, 1, 3]]].tolist() == ["b", "a", "b"]
    assert codes[2] == -1
    categorical = text.astype("category")
    codes, values = _codes.column_codes(categorical)
    assert values[codes[0]] == "b" and codes[2] == -1


@pytest.mark.parametrize(
    "values",
    [
        [3, 1, 3, 0, 1, 5, 0],  # dense: through the table
        [7, 10**12, 7, 3],  # sparse: through a hash table
        [-1, 2, -1],  # negative: through a hash table
        [4],
        [],
    ],
)
def test_first_occurrences_as_pandas_finds_them(values):
    from prefsync_audit._codes import first_occurrences

    array = np.array(values, dtype=np.int64)
    expected = ~pd.Series(array, dtype="int64").duplicated().to_numpy()
    assert first_occurrences(array).tolist() == expected.tolist()


def test_first_occurrences_of_many_rows_in_a_table():
    from prefsync_audit._codes import first_occurrences

    # Positions past int8 and int16 in the table; values of a narrow type.
    values = np.random.default_rng(3).integers(0, 20_000, 40_000).astype(np.int32)
    expected = ~pd.Series(values).duplicated().to_numpy()
    assert np.array_equal(first_occurrences(values), expected)


@pytest.mark.parametrize("table_size", [0, 1, 7, 500])
def test_positions_in_sorted_as_a_dict_finds_them(table_size):
    rng = np.random.default_rng(table_size)
    table = np.unique(rng.integers(-50, 2000, table_size))
    values = rng.integers(-60, 2100, 3000)
    position = {value: i for i, value in enumerate(table.tolist())}
    expected = [position.get(value, -1) for value in values.tolist()]
    assert _codes.positions_in_sorted(table, values).tolist() == expected


@pytest.mark.parametrize(
    ("values", "members"),
    [
        ([5, 7, 9, 5, -3], [7, -3, 100]),  # a narrow range: through a table of flags
        ([0, 10**12, 3], [3, 10**12]),  # a wide range: through a hash lookup
        ([1, 2], []),
        ([], [1]),
    ],
)
def test_isin_integers_as_numpy_finds_them(values, members):
    values, members = np.array(values, dtype=np.int64), np.array(members, dtype=np.int64)
    assert _codes.isin_integers(values, members).tolist() == np.isin(values, members).tolist()


def test_a_chunked_column_is_dictionary_encoded_against_one_dictionary():
    column = pa.chunked_array([["b", None, "a"], [], [None, None], ["c", "b"]], pa.large_string())
    encoded = _codes.dictionary_encoded(column)
    assert all(chunk.dictionary.to_pylist() == ["b", "a", "c"] for chunk in encoded.chunks)
    assert encoded.to_pylist() == column.to_pylist()


def test_chunks_encoded_against_different_dictionaries_are_unified(monkeypatch):
    def apart(column):
        # What Arrow does not do for a chunked column: each chunk its own dictionary.
        return pa.chunked_array([chunk.dictionary_encode() for chunk in column.chunks])

    monkeypatch.setattr(_codes.pc, "dictionary_encode", apart)
    column = pa.chunked_array([["b", "a"], ["c", "b", None]], pa.large_string())
    encoded = _codes.dictionary_encoded(column)
    dictionaries = {tuple(chunk.dictionary.to_pylist()) for chunk in encoded.chunks}
    assert dictionaries == {("b", "a", "c")}
    assert encoded.to_pylist() == column.to_pylist()
