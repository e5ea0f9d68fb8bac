"""Array work done in DuckDB equals what Python computes one value at a time."""

from __future__ import annotations

import tempfile

import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prefsync_audit import _duckdb
from prefsync_audit._duckdb import sha256_hex_array, text_order
from prefsync_audit.normalize import sha256_hex

# Any text UTF-8 can hold (no lone surrogates), NUL and prefixes of each other included.
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=50, deadline=None)
@given(st.lists(_TEXT, max_size=30))
def test_hashes_in_duckdb_are_those_of_each_value(values):
    hashed = sha256_hex_array(pa.array(values, pa.large_string()))
    assert hashed.type == pa.large_string()
    assert hashed.to_pylist() == [sha256_hex(value) for value in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, max_size=40))
@example(["b", "a", "", "a\x00", "a\x00b", "a\x01", "é", "Z", "𝒳", "\uffff", "ab", "a"])
def test_text_sorted_in_duckdb_as_python_sorts_it(values):
    # Equal values keep their order, as a stable sort of the positions does.
    expected = sorted(range(len(values)), key=lambda position: values[position])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_duckdb, "SORT_IN_DUCKDB_FROM", 0)
        order = text_order(pa.array(values, pa.large_string()))
    assert order.tolist() == expected
    # Arrow's own sort, used for few values, agrees.
    assert text_order(pa.array(values, pa.large_string())).tolist() == expected


def test_many_values_are_sorted_in_duckdb(monkeypatch):
    calls = []
    original = _duckdb._one_column
    monkeypatch.setattr(_duckdb, "_one_column", lambda *args: calls.append(args) or original(*args))
    values = [f"id-{(i * 7919) % 70000:05d}" for i in range(70000)]
    order = text_order(pa.array(values, pa.large_string()))
    assert len(calls) == 1
    assert [values[i] for i in order] == sorted(values)


def test_a_sort_larger_than_memory_would_spill_to_the_temporary_folder(tmp_path, monkeypatch):
    # Not DuckDB's default, ``.tmp`` in the folder the audit runs in.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "it's tmp"))
    query = "SELECT current_setting('temp_directory') FROM t"
    setting = _duckdb._one_column(pa.table({"x": [1]}), query, 1)
    assert setting.to_pylist() == [str(tmp_path / "it's tmp" / "prefsync-audit-duckdb")]


def test_calls_from_several_threads_at_once_each_get_their_own_result():
    # One database for the process, a cursor per call: each call's table "t" is its own.
    from concurrent.futures import ThreadPoolExecutor

    inputs = [pa.array([f"{k}-{i}" for i in range(20_000)]) for k in range(8)]
    with ThreadPoolExecutor(4) as pool:
        digests = list(pool.map(_duckdb.sha256_hex_array, inputs))
    for texts, hashed in zip(inputs, digests, strict=True):
        assert hashed.to_pylist() == [sha256_hex(t) for t in texts.to_pylist()]
