"""prefsync_audit._stack: the per-file canonical tables stacked column by column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prefsync_audit import _codes
from prefsync_audit._stack import constant_column, stack_columns


def parts() -> list[pd.DataFrame]:
    return [
        pd.DataFrame(
            {
                "key": [0, 1, 2],
                "system": ["crm", "crm", "crm"],
                "state": pd.Series(["granted", "denied", None], dtype="object"),
                "proof": pd.Series(["r1", None, "r3"], dtype="str"),
            }
        ),
        pd.DataFrame(
            {
                "key": [3, 4],
                "system": ["esp", "esp"],
                "state": pd.Series(["unknown", "denied"], dtype="str"),
                # no "proof" column in this part
            }
        ),
    ]


def test_columns_stacked_with_categories_and_text():
    frames = parts()
    stacked = stack_columns(
        frames,
        ["key", "system", "state", "proof"],
        {"system": ["esp", "crm", "sms"], "state": None},
        text=["proof"],
    )
    assert stacked["key"].tolist() == [0, 1, 2, 3, 4]
    # Given categories keep their order; others are sorted, as astype("category") sorts.
    assert list(stacked["system"].cat.categories) == ["esp", "crm", "sms"]
    assert stacked["system"].tolist() == ["crm", "crm", "crm", "esp", "esp"]
    assert list(stacked["state"].cat.categories) == ["denied", "granted", "unknown"]
    assert stacked["state"].astype(object).where(stacked["state"].notna(), None).tolist() == [
        "granted",
        "denied",
        None,
        "unknown",
        "denied",
    ]
    assert isinstance(stacked["proof"].dtype, pd.StringDtype)
    assert stacked["proof"].isna().tolist() == [False, True, False, True, True]
    # The inputs are emptied column by column.
    assert all(frame.columns.empty for frame in frames)


def test_same_result_as_concat_then_astype():
    rng = np.random.default_rng(3)
    values = np.array(["b", "a", "c", None, "a b"], dtype=object)
    frames = [pd.DataFrame({"state": values[rng.integers(0, 5, 70_000)]}) for _ in range(3)]
    expected = pd.concat(frames, ignore_index=True)["state"].astype("category")
    stacked = stack_columns(frames, ["state"], {"state": None})["state"]
    pd.testing.assert_series_equal(stacked, expected, check_names=False, check_categorical=True)


def test_a_value_outside_given_categories_is_missing():
    frame = pd.DataFrame({"system": ["crm", "other"]})
    stacked = stack_columns([frame], ["system"], {"system": ["crm"]})
    assert stacked["system"].isna().tolist() == [False, True]


@pytest.mark.parametrize("block", [3, _codes.BLOCK])
def test_values_of_several_types_fall_back_to_pandas(monkeypatch, block):
    monkeypatch.setattr(_codes, "BLOCK", block)
    frame = pd.DataFrame({"raw": pd.Series(["yes", 1, "no", 1, None], dtype="object")})
    stacked = stack_columns([frame], ["raw"], {"raw": None})["raw"]
    assert isinstance(stacked.dtype, pd.CategoricalDtype)
    assert stacked.tolist()[:4] == ["yes", 1, "no", 1]
    assert pd.isna(stacked.tolist()[4])


def test_constant_columns_stack_as_their_strings_do():
    # A file's system and name: one value per part, given as a categorical of it.
    as_strings = [pd.DataFrame({"file": ["b.csv"] * 3}), pd.DataFrame({"file": ["a.csv"] * 2})]
    as_constants = [
        pd.DataFrame({"file": constant_column("b.csv", 3)}),
        pd.DataFrame({"file": constant_column("a.csv", 2)}),
        pd.DataFrame({"file": constant_column("b.csv", 0)}),  # an empty file
    ]
    expected = stack_columns(as_strings, ["file"], {"file": None})
    stacked = stack_columns(as_constants, ["file"], {"file": None})
    pd.testing.assert_frame_equal(stacked, expected)
    assert list(stacked["file"].cat.categories) == ["a.csv", "b.csv"]
    assert stacked["file"].cat.codes.tolist() == [1, 1, 1, 0, 0]


def test_categories_no_row_holds_are_left_out():
    # A rule's categorical keeps the categories of rows it did not keep: the
    # stacked categories are those of the rows, however the rows were split.
    states = pd.Categorical(["granted", "denied", "ignore", "unknown"])
    first = pd.DataFrame({"state": states[[0, 0]]})  # categories: all four
    second = pd.DataFrame({"state": pd.Categorical(["denied", None], categories=["denied", "x"])})
    stacked = stack_columns([first, second], ["state"], {"state": None})["state"]
    assert list(stacked.cat.categories) == ["denied", "granted"]
    assert stacked.astype(object).where(stacked.notna(), None).tolist() == [
        "granted",
        "granted",
        "denied",
        None,
    ]


def test_text_columns_a_part_lacks_share_one_array_of_missing_values():
    import pyarrow as pa

    frames = [
        pd.DataFrame({"key": [0, 1], "email": pd.Series(["a@x.com", None], dtype="str")}),
        pd.DataFrame({"key": [2, 3, 4]}),
        pd.DataFrame({"key": [5]}),
    ]
    stacked = stack_columns(frames, ["key", "email", "phone"], {}, text=["email", "phone"])
    assert stacked["email"].isna().tolist() == [False, True, True, True, True, True]
    assert stacked["phone"].isna().all() and len(stacked["phone"]) == 6
    assert isinstance(stacked["phone"].dtype, pd.StringDtype)
    # The five missing pieces (email of two parts, phone of all three) hold no
    # offsets of their own: one buffer, as long as the longest part, serves all.
    chunks = [
        chunk
        for name in ("email", "phone")
        for chunk in pa.chunked_array(pa.array(stacked[name].array)).chunks
        if chunk.null_count == len(chunk)
    ]
    offsets = {chunk.buffers()[1].address for chunk in chunks}
    assert len(chunks) == 5 and len(offsets) == 1
