"""Query results to text: each Arrow type as ``load`` would write it from a file."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from prefsync_audit.sources._arrow import batch_from_rows, flatten, text_array, unusable_reason

UTC = dt.UTC


@pytest.mark.parametrize(
    ("array", "text"),
    [
        (pa.array([True, False, None]), ["true", "false", None]),
        (pa.array([1, None, -3], pa.int32()), ["1", None, "-3"]),
        (pa.array([decimal.Decimal("1.50"), None]), ["1.50", None]),
        (pa.array([1.5, 2.0]), ["1.5", "2"]),
        (pa.array([dt.date(2026, 1, 14)]), ["2026-01-14"]),
        (
            pa.array(
                [dt.datetime(2026, 1, 14, 9, 12, 40, tzinfo=UTC), None], pa.timestamp("us", "UTC")
            ),
            ["2026-01-14T09:12:40Z", None],
        ),
        (
            pa.array(
                [dt.datetime(2026, 1, 14, 10, 12, 40, 500000, tzinfo=ZoneInfo("Europe/Paris"))],
                pa.timestamp("us", "Europe/Paris"),
            ),
            ["2026-01-14T09:12:40.500000Z"],
        ),
        (
            pa.array([dt.datetime(2026, 1, 14, 9, 12, 40)], pa.timestamp("ns")),
            ["2026-01-14T09:12:40"],
        ),
        (
            pa.array([["a", 'b"c'], [], None, ["x", None]]),
            ['["a", "b\\"c"]', "[]", None, '["x", null]'],
        ),
        (pa.array([[1, 2]]), ["[1, 2]"]),
        (pa.array(["x", None, "x"]).dictionary_encode(), ["x", None, "x"]),
        (pa.nulls(2), [None, None]),
    ],
    ids=lambda v: str(v.type) if isinstance(v, pa.Array) else None,
)
def test_text_of_each_type(array: pa.Array, text: list[str | None]):
    assert unusable_reason(array.type) is None
    assert text_array(array).to_pylist() == text


def test_uuid_extension_type():
    values = [uuid.UUID("12345678-9abc-def0-1234-56789abcdef0"), None]
    storage = pa.array([v.bytes if v else None for v in values], pa.binary(16))
    array = pa.ExtensionArray.from_storage(pa.uuid(), storage)
    assert text_array(array).to_pylist() == ["12345678-9abc-def0-1234-56789abcdef0", None]


@pytest.mark.parametrize(
    "dtype",
    [pa.binary(), pa.large_binary(), pa.binary(4), pa.duration("s"), pa.month_day_nano_interval()],
    ids=str,
)
def test_types_that_are_not_text(dtype: pa.DataType):
    assert unusable_reason(dtype)


def test_structs_are_flattened():
    table = pa.table({"profile": [{"email": "a@x.com", "prefs": {"sms": True}}]})
    assert flatten(table).column_names == ["profile.email", "profile.prefs.sms"]


def test_rows_from_a_dbapi_driver():
    rows = [
        (1, "a", True, dt.datetime(2026, 1, 1, tzinfo=UTC), b"\x00"),
        (2, None, False, None, None),
    ]
    table = batch_from_rows(["id", "name", "flag", "at", "blob"], rows)
    assert [str(t) for t in table.schema.types] == [
        "int64",
        "string",
        "bool",
        "timestamp[us, tz=UTC]",
        "binary",
    ]
    assert text_array(table["flag"].combine_chunks()).to_pylist() == ["true", "false"]


def test_a_column_of_mixed_types_is_read_as_text():
    # SQLite allows it; so do some drivers' JSON or variant columns.
    table = batch_from_rows(
        ["v", "u"], [(1, uuid.UUID(int=1)), ("x", None), (2.5, None), (True, None)]
    )
    assert table["v"].to_pylist() == ["1", "x", "2.5", "true"]
    assert text_array(table["u"].combine_chunks()).to_pylist() == [
        "00000000-0000-0000-0000-000000000001",
        None,
        None,
        None,
    ]
    mixed_bytes = batch_from_rows(["b"], [(b"\x01",), ("x",)])
    assert unusable_reason(mixed_bytes.schema.field("b").type)
