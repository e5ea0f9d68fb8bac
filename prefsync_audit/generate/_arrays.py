"""Vectorized text building: timestamps, digits, hex and ids as Arrow strings.

Formatting millions of values one by one in Python (or even with
``pyarrow.compute.strftime``) dominates generation time. Fixed-width text is
built here as a ``(rows, width)`` byte matrix with numpy arithmetic and handed
to Arrow as the data buffer of a string array, without a copy per value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: A missing time in the scenario's int64 epoch-second arrays.
NA = np.iinfo(np.int64).min

HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_BASE36 = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)

#: Timestamp layouts of the exports (all UTC, second precision).
TIME_LAYOUTS = {
    "iso": ("T", b"Z"),  # 2026-01-14T09:12:40Z (OneTrust, Twilio)
    "salesforce": ("T", b".000Z"),  # 2026-01-14T09:12:40.000Z (Data Loader)
    "mailchimp": (" ", b""),  # 2026-01-14 09:12:40
}


def text_array(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An Arrow string array from a ``(rows, width)`` uint8 matrix (one value per row)."""
    rows, width = chars.shape
    data = pa.py_buffer(np.ascontiguousarray(chars, dtype=np.uint8))
    large = rows * width >= 2**31 - 1
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64 if large else np.int32)
    buffers = [None, pa.py_buffer(offsets), data]
    null_count = 0
    if valid is not None and not valid.all():
        buffers[0] = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(rows - valid.sum())
    kind = pa.large_string() if large else pa.string()
    array = pa.Array.from_buffers(kind, rows, buffers, null_count=null_count)
    return array.cast(pa.string()) if large else array


def put_digits(chars: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    """Write ``values`` as zero-padded decimal digits into ``chars[:, column:column+width]``."""
    rest = values.astype(np.int64, copy=True)
    for k in range(width - 1, -1, -1):
        chars[:, column + k] = 48 + rest % 10
        rest //= 10


def digits(values: np.ndarray, width: int, prefix: bytes = b"") -> pa.Array:
    """``prefix`` + zero-padded decimal ``values`` (``NW-00123456``)."""
    chars = np.empty((len(values), len(prefix) + width), dtype=np.uint8)
    if prefix:
        chars[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    put_digits(chars, len(prefix), values, width)
    return text_array(chars)


def in_base(values: np.ndarray, width: int, alphabet: np.ndarray) -> np.ndarray:
    """The ``(rows, width)`` digits of ``values`` in the base of ``alphabet``."""
    base = len(alphabet)
    rest = values.astype(np.int64, copy=True)
    chars = np.empty((len(values), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        chars[:, k] = alphabet[rest % base]
        rest //= base
    return chars


def base36(values: np.ndarray, width: int) -> pa.Array:
    return text_array(in_base(values, width, _BASE36))


def random_hex(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    """A ``(rows, width)`` matrix of random lowercase hex digits (``width`` even)."""
    raw = np.frombuffer(rng.bytes(rows * width // 2), dtype=np.uint8).reshape(rows, width // 2)
    chars = np.empty((rows, width), dtype=np.uint8)
    chars[:, 0::2] = HEX[raw >> 4]
    chars[:, 1::2] = HEX[raw & 15]
    return chars


def uuid4_text(rng: np.random.Generator, rows: int, valid: np.ndarray | None = None) -> pa.Array:
    """Random version-4 UUIDs (``8-4-4-4-12`` hex)."""
    body = random_hex(rng, rows, 32)
    body[:, 12] = ord("4")
    body[:, 16] = HEX[8 + rng.integers(0, 4, size=rows)]
    chars = np.empty((rows, 36), dtype=np.uint8)
    chars[:, :] = ord("-")
    for start, end, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        chars[:, at : at + end - start] = body[:, start:end]
    return text_array(chars, valid)


def salesforce_ids(sequence: np.ndarray) -> pa.Array:
    """18-character Contact ids ``0035g00…`` with the case-safe checksum suffix.

    Ids increase with ``sequence``, as Salesforce ids do with creation order.
    """
    body = np.empty((len(sequence), 15), dtype=np.uint8)
    body[:, :7] = np.frombuffer(b"0035g00", dtype=np.uint8)
    body[:, 7:] = in_base(sequence, 8, _BASE62)
    upper = (body >= ord("A")) & (body <= ord("Z"))
    suffix_alphabet = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
    weights = 1 << np.arange(5)
    chars = np.empty((len(sequence), 18), dtype=np.uint8)
    chars[:, :15] = body
    for chunk in range(3):
        bits = (upper[:, chunk * 5 : chunk * 5 + 5] * weights).sum(axis=1)
        chars[:, 15 + chunk] = suffix_alphabet[bits]
    return text_array(chars)


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of days since 1970-01-01 (H. Hinnant's civil_from_days)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _date_table(first_day: int, last_day: int) -> np.ndarray:
    """``YYYY-MM-DD`` of every day in ``[first_day, last_day]`` as a ``(days, 10)`` matrix."""
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    year, month, day = _civil(days)
    chars = np.empty((len(days), 10), dtype=np.uint8)
    put_digits(chars, 0, year, 4)
    put_digits(chars, 5, month, 2)
    put_digits(chars, 8, day, 2)
    chars[:, 4] = chars[:, 7] = ord("-")
    return chars


def _clock_table() -> np.ndarray:
    """``HH:MM:SS`` of every second of a day as a ``(86400, 8)`` matrix."""
    second = np.arange(86400, dtype=np.int64)
    chars = np.empty((86400, 8), dtype=np.uint8)
    put_digits(chars, 0, second // 3600, 2)
    put_digits(chars, 3, second // 60 % 60, 2)
    put_digits(chars, 6, second % 60, 2)
    chars[:, 2] = chars[:, 5] = ord(":")
    return chars


_CLOCK = _clock_table()


def format_times(seconds: np.ndarray, layout: str) -> pa.Array:
    """Epoch seconds (``NA`` = missing) as text in one of :data:`TIME_LAYOUTS`."""
    separator, suffix = TIME_LAYOUTS[layout]
    valid = seconds != NA
    values = np.where(valid, seconds, 0)
    days, rest = np.divmod(values, 86400)
    # Days span a few years at most: format each distinct day once, then gather.
    first = int(days.min()) if len(days) else 0
    table = _date_table(first, int(days.max()) if len(days) else 0)
    chars = np.empty((len(values), 19 + len(suffix)), dtype=np.uint8)
    chars[:, :10] = table[days - first]
    chars[:, 10] = ord(separator)
    chars[:, 11:19] = _CLOCK[rest]
    if suffix:
        chars[:, 19:] = np.frombuffer(suffix, dtype=np.uint8)
    return text_array(chars, valid)


def pick(pool: list[str], codes: np.ndarray) -> pa.Array:
    """``pool[codes]`` as an Arrow string array; a negative code is a missing value."""
    valid = codes >= 0
    taken = pa.array(pool, pa.string()).take(pa.array(np.where(valid, codes, 0)))
    if valid.all():
        return taken
    return pc.if_else(pa.array(valid), taken, pa.nulls(len(codes), pa.string()))


def join(*parts: pa.Array | str) -> pa.Array:
    """Concatenate string arrays and constants element-wise (null if any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def choose(style: np.ndarray, variants: list[pa.Array]) -> pa.Array:
    """Per row, the variant ``style[row]`` (0-based) of the value."""
    if len(variants) == 1:
        return variants[0]
    return pc.choose(pa.array(style.astype(np.int8)), *variants)


def by_style(style: np.ndarray, build: Callable[[int, np.ndarray], pa.Array]) -> pa.Array:
    """Per row, ``build(style, rows)`` computed only on the rows of each style.

    Cheaper than building every variant for every row and choosing: each row's
    text is made once, then put back in row order with one ``take``.
    """
    style = np.asarray(style, dtype=np.int64)
    order = np.argsort(style, kind="stable")
    counts = np.bincount(style) if len(style) else np.zeros(1, dtype=np.int64)
    parts, start = [], 0
    for value, count in enumerate(counts):
        if count:
            parts.append(build(value, order[start : start + count]))
        start += count
    if not parts:
        return build(0, order)
    if len(parts) == 1:
        return parts[0]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pa.concat_arrays(parts).take(pa.array(inverse))


def affine_permutation(rng: np.random.Generator, space: int) -> tuple[int, int]:
    """``(a, b)`` such that ``i -> (a*i + b) % space`` is a bijection of ``range(space)``."""
    while True:
        a = int(rng.integers(space // 3, space - 1))
        if math.gcd(a, space) == 1:
            return a, int(rng.integers(0, space))


def permute(index: np.ndarray, space: int, ab: tuple[int, int]) -> np.ndarray:
    a, b = ab
    # Python ints would be exact, but a*i stays below 2**63 for spaces under ~3e9.
    return (index.astype(np.int64) * a + b) % space
