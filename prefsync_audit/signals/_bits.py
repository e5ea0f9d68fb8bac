"""Bit-level reading of base64url consent strings (TCF and GPP).

TC strings and GPP sections are big-endian bit strings written six bits per
character with the websafe base64 alphabet (``A-Z a-z 0-9 - _``). This module
turns such text into a :class:`BitReader` that reads the few data types the
IAB specifications use (fixed integers, booleans, bitfields, 6-bit letters,
decisecond timestamps, Fibonacci integers and ranges) and that raises
:class:`~prefsync_audit.errors.SignalDecodeError` -- with the bit offset --
whenever the data runs out or breaks a rule, instead of returning a guess.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefsync_audit.errors import SignalDecodeError

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Each character maps straight to its six bits, so decoding never goes through
# bytes: strings whose bit length is not a multiple of 8 (all GPP sections are
# padded to 6 only) decode exactly, and no binascii error can escape.
_SEXTETS = {char: format(index, "06b") for index, char in enumerate(_ALPHABET)}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Fibonacci numbers F(2), F(3), ... as used by Fibonacci coding: bit i of a
# code word is worth _FIB[i]. 90 terms exceed any 64-bit value.
_FIB: list[int] = [1, 2]
while len(_FIB) < 90:
    _FIB.append(_FIB[-1] + _FIB[-2])

#: Longest Fibonacci code word accepted. 40 value bits reach ~2.6e8, far above
#: any real section id or offset; longer words are garbage, and capping them
#: keeps a hostile string from building huge integers.
MAX_FIBONACCI_BITS = 40


def base64url_to_bits(text: str, *, char_offset: int = 0, what: str = "segment") -> str:
    """Return the bits of websafe-base64 ``text`` as a string of ``0``/``1``.

    Trailing ``=`` padding is accepted and ignored (the TCF spec's own
    examples carry it); any other character outside the websafe alphabet is
    rejected with its character position (``char_offset`` + index), which lets
    callers report positions in the whole input rather than in one segment.
    """
    body = text.rstrip("=")
    if not body:
        raise SignalDecodeError(f"{what} is empty", position=char_offset)
    parts: list[str] = []
    for index, char in enumerate(body):
        sextet = _SEXTETS.get(char)
        if sextet is None:
            raise SignalDecodeError(
                f"{what}: character {char!r} is not websafe base64 (A-Z a-z 0-9 - _)",
                position=char_offset + index,
            )
        parts.append(sextet)
    return "".join(parts)


class BitReader:
    """Sequential reader over a bit string; every failure names its bit offset.

    ``context`` prefixes every error message (for example
    ``"TC string core segment"``) so an analyst sees which part of which
    signal is broken, and ``position`` on the error is the bit offset within
    that part.
    """

    __slots__ = ("_bits", "_pos", "context")

    def __init__(self, bits: str, *, context: str = "bit string") -> None:
        self._bits = bits
        self._pos = 0
        self.context = context

    @classmethod
    def from_base64url(
        cls, text: str, *, context: str = "segment", char_offset: int = 0
    ) -> BitReader:
        """Build a reader over websafe-base64 ``text`` (see :func:`base64url_to_bits`)."""
        return cls(base64url_to_bits(text, char_offset=char_offset, what=context), context=context)

    @property
    def position(self) -> int:
        """Offset of the next bit to read."""
        return self._pos

    @property
    def length(self) -> int:
        """Total number of bits, padding included."""
        return len(self._bits)

    @property
    def remaining(self) -> int:
        """Bits left after the current position."""
        return len(self._bits) - self._pos

    def error(self, reason: str, position: int | None = None) -> SignalDecodeError:
        """Build a decode error prefixed with this reader's context."""
        return SignalDecodeError(
            f"{self.context}: {reason}", position=self._pos if position is None else position
        )

    def _take(self, count: int, what: str) -> str:
        if count < 0:  # pragma: no cover - internal misuse, never data-driven
            raise ValueError("negative bit count")
        if count > self.remaining:
            raise self.error(
                f"unexpected end of data reading {what} (needs {count} bits, {self.remaining} left)"
            )
        chunk = self._bits[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def peek_int(self, count: int, what: str = "integer") -> int:
        """Read ``count`` bits as an unsigned integer without consuming them."""
        start = self._pos
        try:
            return self.read_int(count, what)
        finally:
            self._pos = start

    def read_int(self, count: int, what: str = "integer") -> int:
        """Read an unsigned big-endian integer of ``count`` bits."""
        chunk = self._take(count, what)
        return int(chunk, 2) if chunk else 0

    def read_bool(self, what: str = "flag") -> bool:
        """Read one bit as a boolean (``1`` = true)."""
        return self._take(1, what) == "1"

    def read_bitfield(self, count: int, what: str = "bitfield") -> frozenset[int]:
        """Read ``count`` bits; return the 1-based ids whose bit is set."""
        chunk = self._take(count, what)
        return frozenset(index + 1 for index, bit in enumerate(chunk) if bit == "1")

    def read_int_list(self, count: int, width: int, what: str = "list") -> tuple[int, ...]:
        """Read ``count`` integers of ``width`` bits each (GPP ``N-Bitfield``)."""
        return tuple(self.read_int(width, f"{what}[{index + 1}]") for index in range(count))

    def read_letters(self, count: int, what: str = "letters") -> str:
        """Read ``count`` 6-bit letters (``0`` = ``A`` ... ``25`` = ``Z``)."""
        letters: list[str] = []
        for _ in range(count):
            start = self._pos
            value = self.read_int(6, what)
            if value > 25:
                raise self.error(f"{what}: letter value {value} is outside A-Z (0-25)", start)
            letters.append(chr(ord("A") + value))
        return "".join(letters)

    def read_datetime(self, what: str = "timestamp") -> datetime:
        """Read a 36-bit count of deciseconds since the Unix epoch as a UTC datetime."""
        deciseconds = self.read_int(36, what)
        # 2**36 deciseconds is about year 2187, well inside datetime's range.
        return _EPOCH + timedelta(milliseconds=deciseconds * 100)

    def read_fibonacci(self, what: str = "Fibonacci integer") -> int:
        """Read one Fibonacci-coded positive integer (code word ends in ``11``)."""
        start = self._pos
        value = 0
        previous_one = False
        index = 0
        while True:
            if index > MAX_FIBONACCI_BITS:
                raise self.error(f"{what}: Fibonacci code word longer than 40 bits", start)
            bit = self._take(1, what)
            if bit == "1":
                if previous_one:
                    return value
                value += _FIB[index]
                previous_one = True
            else:
                previous_one = False
            index += 1

    def read_fibonacci_range(
        self, what: str, *, max_items: int, too_many: str | None = None
    ) -> tuple[int, ...]:
        """Read a GPP ``Range(Fibonacci)``: ascending ids, each coded as an offset.

        Layout: a 12-bit item count, then per item a group flag, the Fibonacci
        offset from the previous id (0 before the first), and for a group its
        Fibonacci length. Offsets are at least 1, so ids always ascend. The
        expansion stops with an error past ``max_items`` ids so that a short
        hostile string cannot ask for millions of them; ``too_many`` replaces
        the error message for that case.
        """
        count = self.read_int(12, f"{what} count")
        ids: list[int] = []
        last = 0
        for item in range(count):
            is_group = self.read_bool(f"{what} item {item + 1} group flag")
            start = last + self.read_fibonacci(f"{what} item {item + 1} offset")
            end = start
            if is_group:
                end += self.read_fibonacci(f"{what} item {item + 1} length")
            if len(ids) + (end - start + 1) > max_items:
                raise self.error(too_many or f"{what}: more than {max_items} ids")
            ids.extend(range(start, end + 1))
            last = end
        return tuple(ids)

    def read_int_ranges(self, what: str, *, max_id: int | None = None) -> frozenset[int]:
        """Read a TCF/GPP ``Range(Int)``: 12-bit entry count, 16-bit ids.

        Each entry is a single id or an inclusive ``start..end`` run. An id of
        0, a run whose start exceeds its end, or (when ``max_id`` is given) an
        id above it is malformed and rejected at the entry's bit offset.
        """
        count = self.read_int(12, f"{what} entry count")
        runs: list[tuple[int, int]] = []
        for entry in range(count):
            entry_pos = self._pos
            label = f"{what} entry {entry + 1}"
            is_range = self.read_bool(f"{label} range flag")
            start = self.read_int(16, f"{label} start id")
            end = self.read_int(16, f"{label} end id") if is_range else start
            if start == 0:
                raise self.error(f"{label}: vendor id 0 does not exist (ids start at 1)", entry_pos)
            if start > end:
                raise self.error(f"{label}: range start {start} is after its end {end}", entry_pos)
            if max_id is not None and end > max_id:
                raise self.error(f"{label}: id {end} is above MaxVendorId {max_id}", entry_pos)
            runs.append((start, end))
        return _merge_runs(runs)

    def expect_zero_padding(self, what: str = "padding") -> None:
        """Require every remaining bit to be 0.

        Encoders pad with zeros; a 1 after the last field means the fields were
        read at the wrong width (or the string was altered), so the decoded
        values cannot be trusted.
        """
        rest = self._bits[self._pos :]
        one = rest.find("1")
        if one != -1:
            raise self.error(
                f"unexpected non-zero bit in {what} after the last field", self._pos + one
            )
        self._pos = len(self._bits)


def _merge_runs(runs: list[tuple[int, int]]) -> frozenset[int]:
    """Union inclusive runs without expanding overlaps one by one.

    Merging first bounds the work by the number of distinct ids (at most
    65535 with 16-bit ids) however many overlapping entries a string repeats.
    """
    ids: set[int] = set()
    merged_end = 0
    for start, end in sorted(runs):
        start = max(start, merged_end + 1)
        if start <= end:
            ids.update(range(start, end + 1))
            merged_end = end
    return frozenset(ids)
