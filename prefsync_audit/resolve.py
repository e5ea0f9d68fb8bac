"""Stage 3 — resolve identities: which records are the same person.

Records that share any identifier value are one person: the connected
components of the graph record ↔ identifier value, computed with scipy. Each
kind's values are numbered once and linking runs on those integer codes (no
Python loop per row). Plain emails and phones are also hashed the way each
hashed audience hashes them (once per distinct value), so an audience of
SHA-256 values joins the plain-text systems.

Placeholder values (``test@test.com``, ``0000000000``) would glue strangers
together, so they are left out of linking: by a configurable list, and by a
guard on how many records one value links. Each value left out is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from prefsync_audit._codes import (
    dense_bound,
    dictionary_encoded,
    first_occurrences,
    in_arrow,
    objects,
)
from prefsync_audit._duckdb import sha256_hex_array, text_order
from prefsync_audit._threads import ordered_map, side_by_side
from prefsync_audit.config import IdentityConfig
from prefsync_audit.normalize import (
    apply_email_profile,
    apply_phone_profile,
    apply_profile,
    sha256_hex,
)

DEFAULT_PLACEHOLDERS: dict[str, list[str]] = {
    "email": [
        "re:^(no-?e?mail|none|null|noreply|no-reply|test|unknown|na|n/a|donotreply)@",
        "re:@(test|example|none|noemail)\\.(com|org|net)$",
    ],
    "phone": ["re:^\\+\\d?(\\d)\\1{6,}$", "re:^\\+1(\\d)\\1{9}$", "re:^\\+?1234567890$"],
    "customer_id": ["re:^(0+|-1|null|none|n/a|unknown|test)$"],
}


def _no_hashed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "system": pd.Series(dtype="object"),
            "hashed_records": pd.Series(dtype="int64"),
            "unmatched": pd.Series(dtype="int64"),
        }
    )


@dataclass
class Resolution:
    """The outcome of identity resolution."""

    person_of_record: pd.Series
    """``person_id`` (int) for each ``record_key`` (the index)."""
    anchors: pd.DataFrame
    """Per person: ``anchor_kind`` and ``anchor_value``, its strongest identifier
    (what finding ids are built from, so they survive re-numbering)."""
    ignored_values: pd.DataFrame
    """Identifier values left out of linking: kind, value, records, reason."""
    conflicts: pd.DataFrame
    """Persons holding several values of a strong key: person_id, kind, values."""
    hashed_unmatched: pd.DataFrame = field(default_factory=lambda: _no_hashed())
    """Per system with hashed identifiers (an ad audience): ``hashed_records``, its records
    holding a ``*_sha256`` identifier, and ``unmatched``, those whose person has no record
    in any other system (the hash matched no one the audit knows)."""


def hash_profiles(mappings: list) -> dict[str, set[str]]:
    """Which (plain kind → profiles) the hashed identifiers of these mappings use."""
    profiles: dict[str, set[str]] = {}
    for mapping in mappings:
        for kind, spec in mapping.identifiers.items():
            if kind.endswith("_sha256"):
                profiles.setdefault(kind.removesuffix("_sha256"), set()).add(spec.profile)
    return profiles


def identifier_links(
    records: pd.DataFrame, kinds: list[str], profiles: dict[str, set[str]]
) -> pd.DataFrame:
    """Long table (record_key, kind, value) of every identifier, hashes derived."""
    links = _link_codes(records, kinds, profiles)
    if not links.parts:
        return pd.DataFrame({"record_key": pd.Series(dtype="int64"), "kind": [], "value": []})
    record_key = np.concatenate([part.record_key for part in links.parts])
    code = np.concatenate([part.code for part in links.parts])
    kind = np.repeat(
        np.array([part.kind for part in links.parts], dtype=object),
        [len(part.code) for part in links.parts],
    )
    # One link per (record, kind, value): the codes of two kinds never meet.
    first = _first_occurrences(record_key, code)
    return pd.DataFrame(
        {
            "record_key": record_key[first],
            "kind": kind[first],
            "value": links.values.value_of(code[first]),
        }
    )


def _is_repeat_of(column: str, kind: str) -> bool:
    return column.startswith(kind + "#") and column[len(kind) + 1 :].isdigit()


def hashed_unmatched(records: pd.DataFrame, person_of_record: pd.Series) -> pd.DataFrame:
    """Per system: records with a hashed identifier, and how many matched no other system."""
    hashed_columns = [c for c in records.columns if str(c).split("#")[0].endswith("_sha256")]
    if "system" not in records.columns or not hashed_columns:
        return _no_hashed()
    system_code, systems = pd.factorize(records["system"])
    person_code, n_persons = _dense_codes(person_of_record.to_numpy())
    with_system = system_code >= 0
    # A person is alone when their records name one system (records with no
    # system do not count).
    named = person_code[with_system]
    names_one = np.zeros(n_persons, dtype=bool)
    names_one[named] = True
    names_one &= ~_holding_several(named, system_code[with_system], n_persons)
    alone = names_one[person_code]
    hashed = records[hashed_columns].notna().to_numpy().any(axis=1) & with_system
    hashed_records = np.bincount(system_code[hashed], minlength=len(systems))
    unmatched = np.bincount(system_code[hashed & alone], minlength=len(systems))
    present = np.flatnonzero(hashed_records)
    names = np.asarray(systems, dtype=object)[present]
    order = present[np.argsort(names, kind="stable")]
    return pd.DataFrame(
        {
            "system": np.asarray(systems, dtype=object)[order],
            "hashed_records": hashed_records[order].astype("int64"),
            "unmatched": unmatched[order].astype("int64"),
        }
    )


def _holding_several(person: np.ndarray, value: np.ndarray, n_persons: int) -> np.ndarray:
    """Per person (``person``: codes below ``n_persons``), whether their rows hold
    two values or more: each row's value against one value of its person. A
    scatter and a gather over the persons, where hashing every (person, value)
    pair misses the cache at nearly every row (4.75M pairs at 5M persons: 0.52
    against 0.06 s)."""
    some_value = np.full(n_persons, -1, dtype=np.int64)
    some_value[person] = value
    several = np.zeros(n_persons, dtype=bool)
    several[person[value != some_value[person]]] = True
    return several


def _dense_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0 … n-1 for the values, and n: the values themselves when they are
    as dense as person ids (``dense_bound``)."""
    bound = dense_bound(values)
    if bound is not None:
        return values, bound
    codes, distinct = pd.factorize(values)
    return codes, len(distinct)


@dataclass
class _Values:
    """Every distinct (kind, value) of the links, numbered: linking runs on the codes.

    The codes of ``kinds[i]`` run from ``starts[i]`` up to ``starts[i + 1]``;
    ``distinct[i]`` holds that kind's values in code order, as Arrow strings where
    they came or were hashed so (made Python strings only when asked for: at
    millions of persons there are tens of millions of them), else as objects."""

    kinds: list[str]
    starts: np.ndarray
    distinct: list[np.ndarray | pa.Array]
    _strings: dict[str, pa.Array | None] = field(default_factory=dict)
    _ascii_one_line: dict[str, bool] = field(default_factory=dict)
    """Per kind: all its values are ASCII without line breaks."""

    def __len__(self) -> int:
        return int(self.starts[-1])

    def span(self, kind: str) -> tuple[int, int]:
        """First code of ``kind`` and the code after its last (0, 0 if absent)."""
        if kind not in self.kinds:
            return 0, 0
        index = self.kinds.index(kind)
        return int(self.starts[index]), int(self.starts[index + 1])

    def _kind_index(self, codes: np.ndarray) -> np.ndarray:
        """The position in ``kinds`` of each code's kind."""
        return np.searchsorted(self.starts, codes, side="right") - 1

    def kind_of(self, codes: np.ndarray) -> np.ndarray:
        """The kind of each code."""
        return np.asarray(self.kinds, dtype=object)[self._kind_index(codes)]

    def value_of(self, codes: np.ndarray) -> np.ndarray:
        """The value of each code, as Python objects."""
        codes = np.asarray(codes)
        found = np.empty(len(codes), dtype=object)
        index = self._kind_index(codes)
        for kind_index, distinct in enumerate(self.distinct):
            at = np.flatnonzero(index == kind_index)
            if len(at):
                local = codes[at] - self.starts[kind_index]
                if isinstance(distinct, pa.Array):
                    found[at] = _objects(distinct.take(pa.array(local)))
                else:
                    found[at] = distinct[local]
        return found

    def strings(self, kind: str) -> pa.Array | None:
        """This kind's values as Arrow strings, None unless all are ``str``."""
        if kind not in self._strings:
            distinct = self.distinct[self.kinds.index(kind)]
            is_arrow = isinstance(distinct, pa.Array)
            self._strings[kind] = distinct if is_arrow else _arrow_strings(distinct)
        return self._strings[kind]

    def objects(self, kind: str) -> np.ndarray:
        """This kind's values as Python objects."""
        return _objects(self.distinct[self.kinds.index(kind)])

    def sorted_ranks(self, kind: str, local: np.ndarray) -> np.ndarray:
        """The position of each of these values of ``kind`` (codes less the kind's
        first code) when they are sorted."""
        strings = self.strings(kind)
        if strings is None:
            ranks, _ = pd.factorize(self.objects(kind)[local], sort=True)
            return ranks
        # By the UTF-8 bytes, which orders strings by code point, as Python does.
        order = text_order(strings.take(pa.array(local)))
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(len(order))
        return ranks

    def matching(self, kind: str, patterns: list[str]) -> np.ndarray:
        """Codes of this kind's values that match the exact values or ``re:`` patterns."""
        start, stop = self.span(kind)
        if start == stop or not patterns:
            return np.array([], dtype=np.int64)
        exact = [p for p in patterns if not p.startswith("re:")]
        strings = self.strings(kind)
        if strings is not None:
            in_exact = pc.is_in(strings, value_set=pa.array(exact, pa.large_string()))
            hit = in_exact.to_numpy(zero_copy_only=False).copy()
        else:
            hit = pd.Series(self.objects(kind)).isin(exact).to_numpy(copy=True)
        values = None  # as Python strings, made once if a pattern needs Python's ``re``
        for pattern in (p[3:] for p in patterns if p.startswith("re:")):
            # Compiled by Python first: a pattern Python rejects fails as it always did.
            search = re.compile(pattern, re.IGNORECASE).search
            found = self._search_re2(kind, pattern)
            if found is None:
                values = self.objects(kind) if values is None else values
                found = np.fromiter(map(bool, map(search, values)), bool, len(values))
            hit |= found
        return np.arange(start, stop)[hit]

    def _search_re2(self, kind: str, pattern: str) -> np.ndarray | None:
        """Which of this kind's values match ``pattern`` (case ignored), searched with
        RE2 (Arrow's engine) when it finds what Python's ``re`` would; else None."""
        re2_pattern = _RE2_SPELLINGS.get(pattern, pattern)
        if not (re2_pattern.isascii() and _RE2_READS_AS_PYTHON.fullmatch(re2_pattern)):
            return None
        # RE2 reads that syntax as Python does only on ASCII text without line
        # breaks (Python's ``$`` also matches before a final newline, its ``\d``
        # any Unicode digit).
        if kind not in self._ascii_one_line:
            strings = self.strings(kind)
            self._ascii_one_line[kind] = (
                strings is not None
                and pc.all(pc.string_is_ascii(strings)).as_py() is not False
                and not pc.any(pc.match_substring(strings, "\n")).as_py()
            )
        if not self._ascii_one_line[kind]:
            return None
        try:
            found = pc.match_substring_regex(self.strings(kind), re2_pattern, ignore_case=True)
        except pa.ArrowInvalid:
            return None
        return found.to_numpy(zero_copy_only=False)


# Regular expressions that RE2 reads as Python's ``re`` does on ASCII text: literals,
# escaped punctuation, ``\d \w`` and their negations, plain character classes and
# ``.``, each maybe repeated (greedy or lazy); groups (capturing or ``(?:``), which
# may be repeated too; alternation, ``^ $ \b \B``. Anything else (inline flags,
# lookarounds, backreferences such as the default ``(\d)\1{6,}``, Python 3.11's
# possessive ``*+``) is searched with Python.
_RE2_READS_AS_PYTHON = re.compile(
    r"""
    (?:
        (?:                                     # what may be repeated
            \\[dDwW] | \\[^0-9A-Za-z\s]
          | \[ \^? (?!\]) (?: \\[dDwW] | \\[^0-9A-Za-z\s] | [^\\\[\]] )+ \]
          | [.)] | [0-9A-Za-z @#%&',/:;<=>!~_"-]
        )
        (?: (?: [*+?] | \{ \d+ (?: , \d* )? \} ) \?? )?
      | \\[bB] | [(|^$] | \( \?:             # what may not
    )*
    """,
    re.VERBOSE,
)


def _repeated_digit(times: str) -> str:
    return "(?:" + "|".join(f"{digit}{{{times}}}" for digit in "0123456789") + ")"


# RE2 has no backreferences: the default phone placeholders' repeated digit spelled
# out (same matches on ASCII text).
_RE2_SPELLINGS = {
    r"^\+\d?(\d)\1{6,}$": rf"^\+\d?{_repeated_digit('7,')}$",
    r"^\+1(\d)\1{9}$": rf"^\+1{_repeated_digit('10')}$",
}


def _arrow_strings(values: np.ndarray) -> pa.Array | None:
    """``values`` as an Arrow string array, or None unless every one is a ``str``
    Arrow can hold (a lone surrogate cannot be UTF-8)."""
    if pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
        return None
    try:
        return pa.array(values, pa.large_string())
    except (pa.ArrowException, UnicodeError):
        return None


def _factorize_text(
    parts: list[np.ndarray | pa.Array],
) -> tuple[np.ndarray, np.ndarray | pa.Array]:
    """``pd.factorize`` of these values end to end: codes, and the distinct values
    in order of first occurrence, as Arrow strings when every value is a ``str``
    (hashed in Arrow), else as objects. A hash table over millions of Python
    strings misses the cache more and more as it grows (4.0M hashes took 4.1 s
    as objects at 5M persons, 15× the time of a fifth of them)."""
    texts = [part if isinstance(part, pa.Array) else _arrow_strings(part) for part in parts]
    if any(text is None or text.null_count for text in texts) or not sum(map(len, parts)):
        codes, distinct = pd.factorize(np.concatenate([_objects(part) for part in parts]))
        return codes, np.asarray(distinct, dtype=object)
    # Arrow numbers values in order of first occurrence, as pandas does.
    encoded = pc.dictionary_encode(pa.concat_arrays([t.cast(pa.large_string()) for t in texts]))
    return encoded.indices.to_numpy().astype(np.intp), encoded.dictionary


def _objects(values: np.ndarray | pa.Array) -> np.ndarray:
    """Values as an object array (Arrow strings become Python strings)."""
    if isinstance(values, pa.Array):
        return objects(values)
    return np.asarray(values, dtype=object)


def _present_in_arrow(column: pd.Series) -> tuple[np.ndarray, np.ndarray, pa.Array] | None:
    """For a column of Arrow text: the rows holding a value, the code of each one's
    value, and the distinct values in order of first appearance (as
    ``pd.factorize`` numbers them). Hashed in Arrow, with no code made for the
    missing rows: most of an identifier column is missing where only one system
    holds that kind. None for a column of any other type."""
    if not in_arrow(column):
        return None
    chunks = pa.chunked_array(pa.array(column.array))
    # Encoded as stacking left it, a chunk per file, against one dictionary:
    # joined first, the column would be copied whole, with offsets of 8 bytes
    # for every record that lacks the kind (most of them, and the files that
    # lack it share one buffer of those).
    encoded = dictionary_encoded(chunks)
    codes = pa.chunked_array([chunk.indices for chunk in encoded.chunks], encoded.type.index_type)
    if codes.null_count:
        rows = np.flatnonzero(codes.is_valid().to_numpy())
        codes = pc.drop_null(codes)
    else:
        rows = np.arange(len(codes))
    if encoded.num_chunks:
        dictionary = encoded.chunk(0).dictionary.cast(pa.large_string())
    else:
        dictionary = pa.array([], pa.large_string())
    return rows, codes.to_numpy(), dictionary


class _Source(NamedTuple):
    """Values of a kind: a plain kind's own (``profile`` None), or their hashes
    under ``profile``; Arrow strings where they came or were made so."""

    plain_kind: str
    profile: str | None
    values: np.ndarray | pa.Array


@dataclass
class _Part:
    """The links of one identifier column (or of one hash profile applied to it)."""

    kind: str
    rows: np.ndarray
    """Positions of the records in the records frame."""
    record_key: np.ndarray
    code: np.ndarray


@dataclass
class _Links:
    """Every identifier link as integer codes into ``values``."""

    values: _Values
    parts: list[_Part]
    """In the order :func:`identifier_links` lists them."""
    held: dict[str, tuple[np.ndarray, np.ndarray]]
    """Per kind: the records (row positions) holding a value in the column of that
    name, and the value's code."""
    hash_codes: dict[str, list[np.ndarray]]
    """Per plain kind, per hash profile: the code of the hash of each of its values
    (indexed by the value's code less the kind's first code)."""
    n_records: int

    def distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """``record_key`` and code of each distinct link. ``record_key`` must tell
        the records apart."""
        if not self.parts:
            return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        record_key = np.concatenate([part.record_key for part in self.parts])
        code = np.concatenate([part.code for part in self.parts])
        offsets = np.cumsum([0] + [len(part.code) for part in self.parts])
        repeated = []
        for kind in self.values.kinds:
            of_kind = [i for i, part in enumerate(self.parts) if part.kind == kind]
            if len(of_kind) < 2:
                continue
            # A column holds one value per record: only a record in several of the
            # kind's parts (``email`` and ``email#2``, a held hash and one derived
            # from the plain value) can repeat a link.
            parts_of_row = np.zeros(self.n_records, dtype=np.int16)
            for i in of_kind:
                parts_of_row[self.parts[i].rows] += 1
            shared = np.concatenate(
                [np.flatnonzero(parts_of_row[self.parts[i].rows] > 1) + offsets[i] for i in of_kind]
            )
            repeated.append(shared[~_first_occurrences(record_key[shared], code[shared])])
        repeats = np.concatenate(repeated) if repeated else np.array([], dtype=np.int64)
        if len(repeats):
            keep = np.ones(len(code), dtype=bool)
            keep[repeats] = False
            record_key, code = record_key[keep], code[keep]
        return record_key, code


def _first_occurrences(record_key: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Mask of the first link of each (record_key, code) pair."""
    if not len(code):
        return np.ones(0, dtype=bool)
    return first_occurrences(record_key.astype(np.int64) * (int(code.max()) + 1) + code)


def _index_type(bound: int) -> type[np.signedinteger]:
    """int32 for positions and codes below ``bound``, if they fit it."""
    return np.int32 if bound < np.iinfo(np.int32).max else np.int64


def _link_codes(
    records: pd.DataFrame, kinds: list[str], profiles: dict[str, set[str]], workers: int = 1
) -> _Links:
    """Number each kind's values once; the hashes are derived from distinct plain values.
    ``workers`` families of kinds (:func:`_families`) at a time."""
    # A record may hold several values of a kind: ``kind``, ``kind#2``… (a
    # mapping identifier with ``repeated: true``); each one links.
    columns = {
        kind: [c for c in records.columns if c == kind or _is_repeat_of(c, kind)] for kind in kinds
    }
    # Links are tens of millions at millions of persons: positions, keys and value
    # codes in 32 bits where they fit (every value comes from a record's column).
    index_type = _index_type(len(records) * (1 + sum(len(c) for c in columns.values())))
    record_key = records["record_key"].to_numpy().astype(index_type, copy=False)
    kinds = [kind for kind in kinds if columns[kind]]

    def numbered_family(members: list[str]) -> _Family:
        return _number_family(records, members, columns, profiles, index_type, workers)

    # A family (a kind and the hashes of it) is worked out on a worker of its
    # own, from numbering its values to numbering their hashes: Arrow, DuckDB
    # and numpy let go of the GIL, and the email family alone takes about as
    # long as all the others, which then run beside it rather than after it.
    largest_first = sorted(
        _families(kinds), key=lambda members: -_held_values(records, members, columns)
    )
    numbered = list(ordered_map(numbered_family, largest_first, workers))
    family_of = {name: family for family in numbered for name in family.sources}
    rows_of = {c: rows for family in numbered for c, rows in family.rows_of.items()}
    plain_code_of = {c: codes for family in numbered for c, codes in family.plain_code_of.items()}
    # The values of each kind: its own distinct values, and for ``X_sha256`` the
    # hash of each distinct X under each profile; in the order of ``kinds``, then
    # the hashed kinds no column holds.
    names = [*kinds, *(f"{kind}_sha256" for kind in kinds if profiles.get(kind))]
    sources = {name: family_of[name].sources[name] for name in dict.fromkeys(names)}

    distinct_parts: list[np.ndarray | pa.Array] = []
    starts = [0]
    code_of: dict[tuple[str, str | None], np.ndarray] = {}
    for name, of_kind in sources.items():
        codes, distinct = family_of[name].numbered[name]
        codes = (codes + starts[-1]).astype(index_type)
        boundaries = np.cumsum([len(source.values) for source in of_kind])[:-1]
        for source, source_codes in zip(of_kind, np.split(codes, boundaries), strict=True):
            code_of[source.plain_kind, source.profile] = source_codes
        distinct_parts.append(distinct)
        starts.append(starts[-1] + len(distinct))
    values = _Values(list(sources), np.asarray(starts, dtype=np.int64), distinct_parts)

    parts = []
    for kind in kinds:
        for column in columns[kind]:
            rows, plain = rows_of[column], plain_code_of[column]
            keys = record_key[rows]
            parts.append(_Part(kind, rows, keys, code_of[kind, None][plain]))
            for profile in sorted(profiles.get(kind, ())):
                parts.append(_Part(f"{kind}_sha256", rows, keys, code_of[kind, profile][plain]))
    held = {
        kind: (rows_of[kind], code_of[kind, None][plain_code_of[kind]])
        for kind in kinds
        if kind in rows_of
    }
    hash_codes = {
        kind: [code_of[kind, profile] for profile in sorted(profiles.get(kind, ()))]
        for kind in kinds
    }
    return _Links(values, parts, held, hash_codes, len(records))


@dataclass
class _Family:
    """A plain kind and its hashes (``email``, ``email_sha256``), numbered: the
    records holding each column's values and their codes in the kind, each
    kind's sources, and each kind's codes over its sources with its distinct
    values."""

    rows_of: dict[str, np.ndarray]
    plain_code_of: dict[str, np.ndarray]
    sources: dict[str, list[_Source]]
    numbered: dict[str, tuple[np.ndarray, np.ndarray | pa.Array]]


def _families(kinds: list[str]) -> list[list[str]]:
    """``kinds`` grouped with the hashes of them (``email`` with ``email_sha256``):
    a family's hashes are numbered with the hashes derived from its plain values."""
    families: dict[str, list[str]] = {}
    for kind in kinds:
        families.setdefault(kind.removesuffix("_sha256"), []).append(kind)
    return list(families.values())


def _held_values(records: pd.DataFrame, members: list[str], columns: dict[str, list[str]]) -> int:
    """How many values a family's columns hold (Arrow keeps the count of its
    missing values: a column in Arrow is not read)."""
    held = 0
    for column in (records[c] for kind in members for c in columns[kind]):
        missing = pa.array(column.array).null_count if in_arrow(column) else column.isna().sum()
        held += len(column) - int(missing)
    return held


def _number_family(
    records: pd.DataFrame,
    members: list[str],
    columns: dict[str, list[str]],
    profiles: dict[str, set[str]],
    index_type: type[np.signedinteger],
    workers: int = 1,
) -> _Family:
    """Number the values of a family's kinds, hash its plain values under each
    profile (``workers`` parts at a time), and number each kind over its sources."""
    rows_of: dict[str, np.ndarray] = {}
    plain_code_of: dict[str, np.ndarray] = {}
    sources: dict[str, list[_Source]] = {}
    for kind in members:
        coded_columns, uniques = _kind_codes(records, columns[kind], index_type)
        for column, (rows, codes) in zip(columns[kind], coded_columns, strict=True):
            rows_of[column], plain_code_of[column] = rows, codes
        sources[kind] = [_Source(kind, None, uniques)]
    for kind in members:
        own = sources[kind][0].values
        for profile in sorted(profiles.get(kind, ())):
            hashed = _profile_hashes(kind, own, profile, workers)
            sources.setdefault(f"{kind}_sha256", []).append(_Source(kind, profile, hashed))
    numbered = {name: _numbered(of_kind) for name, of_kind in sources.items()}
    return _Family(rows_of, plain_code_of, sources, numbered)


def _kind_codes(
    records: pd.DataFrame, columns: list[str], index_type: type[np.signedinteger]
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray | pa.Array]:
    """Per column of one kind: the records (row positions) holding a value, and the
    value's code; and the kind's distinct values in code order."""
    present = _present_in_arrow(records[columns[0]]) if len(columns) == 1 else None
    if present is not None:
        rows, codes, uniques = present
        coded = [(rows, codes)]
    else:
        # Missing values are coded -1.
        codes, uniques = pd.factorize(
            np.concatenate([records[c].to_numpy(dtype=object) for c in columns])
        )
        uniques = np.asarray(uniques, dtype=object)
        coded = []
        for column_codes in np.split(codes, len(columns)):
            rows = np.flatnonzero(column_codes >= 0)
            coded.append((rows, column_codes[rows]))
    narrow = [
        (rows.astype(index_type, copy=False), codes.astype(index_type, copy=False))
        for rows, codes in coded
    ]
    return narrow, uniques


def _numbered(of_kind: list[_Source]) -> tuple[np.ndarray, np.ndarray | pa.Array]:
    """Codes of a kind's values from all its sources (0 up), and its distinct values."""
    # A kind's own values are distinct already; hashes may coincide (``a.b@gmail.com``
    # and ``ab@gmail.com`` under Google's profile, with each other or a held hash).
    if len(of_kind) == 1 and of_kind[0].profile is None:
        return np.arange(len(of_kind[0].values)), of_kind[0].values
    return _factorize_text([source.values for source in of_kind])


#: From this many distinct values a kind's hashes are worked out in parts, one
#: per worker (fewer are done before a second thread would start).
HASHED_IN_PARTS_FROM = 1 << 18


def _profile_hashes(
    kind: str, values: np.ndarray | pa.Array, profile: str, workers: int = 1
) -> pa.Array | np.ndarray:
    """The SHA-256 of each of a plain kind's distinct values under a hash profile:
    in Arrow, or one value at a time when they cannot be Arrow strings. Arrow
    text is hashed in ``workers`` parts side by side: the largest family's
    hashes come last in resolution's numbering, when the other families are
    done and their worker is free (4.9M emails at 5M persons)."""
    text = values if isinstance(values, pa.Array) else _arrow_strings(values)
    if text is None:
        apply = apply_email_profile if kind == "email" else apply_phone_profile
        return np.array([sha256_hex(apply(value, profile)) for value in values], dtype=object)
    parts = workers if len(text) >= HASHED_IN_PARTS_FROM else 1
    bounds = np.linspace(0, len(text), parts + 1).astype(int)

    def hashed(part: int) -> pa.Array:
        piece = text.slice(bounds[part], bounds[part + 1] - bounds[part])
        return sha256_hex_array(apply_profile(kind, piece, profile))

    pieces = list(ordered_map(hashed, range(parts), parts))
    return pieces[0] if parts == 1 else pa.concat_arrays(pieces)


def _placeholder_patterns(identity: IdentityConfig, kinds: list[str]) -> dict[str, list[str]]:
    # Every configured kind, not only those with a plain column: a listed plain
    # placeholder must still reach an audience that only holds its hash.
    patterns = {kind: list(values) for kind, values in identity.ignore.items()}
    if identity.use_default_ignore:
        for kind, defaults in DEFAULT_PLACEHOLDERS.items():
            patterns.setdefault(kind, []).extend(defaults)
    # A listed plain placeholder is a placeholder in its hashed forms too.
    for kind, values in list(patterns.items()):
        exact = [v for v in values if not v.startswith("re:")]
        if exact and f"{kind}_sha256" in kinds:
            patterns.setdefault(f"{kind}_sha256", []).extend(sha256_hex(v) for v in exact)
    return patterns


def resolve_identities(
    records: pd.DataFrame,
    identity: IdentityConfig,
    profiles: dict[str, set[str]],
    workers: int = 1,
) -> Resolution:
    """Link records into persons. ``records`` has ``record_key`` 0..n-1 in order.
    ``workers`` threads number the identifier kinds' values (the same result for
    any number)."""
    kinds = [k for k in identity.kinds if k in records.columns]
    links = _link_codes(records, kinds, profiles, workers)
    values = links.values
    n_values = len(values)
    record_of_link, code_of_link = links.distinct()
    records_per_value = np.bincount(code_of_link, minlength=n_values)

    listed = np.zeros(n_values, dtype=bool)
    patterns = _placeholder_patterns(identity, kinds)
    # Each kind's values searched on a worker (RE2 in Arrow lets go of the GIL).
    hits = ordered_map(lambda kind: values.matching(kind, patterns[kind]), list(patterns), workers)
    for kind, hit in zip(patterns, hits, strict=True):
        listed[hit] = True
        # The hashes derived from a placeholder would glue the same strangers together.
        for hash_code in links.hash_codes.get(kind, []):
            listed[hash_code[hit - values.span(kind)[0]]] = True
    too_common = ~listed & (records_per_value > identity.max_records_per_value)
    ignored = pd.concat(
        [
            _ignored_summary(values, records_per_value, listed, "placeholder list"),
            _ignored_summary(
                values,
                records_per_value,
                too_common,
                f"links more than {identity.max_records_per_value} records",
            ),
        ],
        ignore_index=True,
    ).sort_values(["kind", "value"], ignore_index=True)
    left_out = listed | too_common

    usable = ~left_out[code_of_link]
    record_of_link, code_of_link = record_of_link[usable], code_of_link[usable]
    # Records sharing a value are joined through one record holding it (any one):
    # a graph of records only. Components are numbered in the order of their first
    # record, as they would be with the values as nodes of their own. Written in
    # reverse, the holder is (in practice) a value's first record: a person's
    # values then mostly meet in one record near the others, and scipy's search
    # runs through memory in order (5M persons: 3.8-4.4 against 6.3-6.6 s).
    holder = np.zeros(n_values, dtype=record_of_link.dtype)
    holder[code_of_link[::-1]] = record_of_link[::-1]
    joined = holder[code_of_link]
    other = joined != record_of_link
    n_records = len(records)
    graph = coo_matrix(
        (np.ones(int(other.sum()), dtype=np.int8), (record_of_link[other], joined[other])),
        shape=(n_records, n_records),
    )
    _, labels = connected_components(graph, directed=False)

    anchors = _anchors(links, left_out, kinds, labels)
    # Number persons by their anchor, so ids do not depend on row or file order.
    order = np.lexsort((anchors.component, anchors.value_rank, anchors.rank))
    person_ids = np.arange(1, len(order) + 1)
    # A component without an anchor (its records hold no identifier in a kind's
    # own column) has no person: NaN, which fails the cast.
    person_of_component = np.full(int(labels.max()) + 1 if n_records else 0, np.nan)
    person_of_component[anchors.component[order]] = person_ids
    person_of_record = pd.Series(
        person_of_component[labels], index=records["record_key"].to_numpy()
    ).astype("int64")
    person_anchors = pd.DataFrame(
        {
            "person_id": person_ids,
            "anchor_kind": anchors.kind[order],
            # Python strings already: as Arrow text they would be converted one by one.
            "anchor_value": pd.Series(anchors.value[order], dtype=object, copy=False),
        }
    )

    # Two independent counts over every record, side by side (numpy's gathers let
    # go of the GIL).
    conflicts, unmatched = side_by_side(
        [
            lambda: _conflicts(records, identity.strong_keys, person_of_record, links, left_out),
            lambda: hashed_unmatched(records, person_of_record),
        ],
        workers,
    )
    return Resolution(person_of_record, person_anchors, ignored, conflicts, unmatched)


def _ignored_summary(
    values: _Values, records_per_value: np.ndarray, mask: np.ndarray, reason: str
) -> pd.DataFrame:
    codes = np.flatnonzero(mask)
    return pd.DataFrame(
        {
            "kind": values.kind_of(codes),
            "value": values.value_of(codes),
            "records": records_per_value[codes].astype("int64"),
            "reason": reason,
        }
    )


@dataclass
class _Anchors:
    """Per anchored component: its strongest identifier's kind (``rank`` in
    ``kinds``) and value; ``value_rank`` orders the values of one kind."""

    component: np.ndarray
    rank: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    value_rank: np.ndarray


def _anchors(
    links: _Links, left_out: np.ndarray, kinds: list[str], components: np.ndarray
) -> _Anchors:
    """Each component's strongest identifier: the first kind (in strength order) it
    has, and that kind's smallest value. A placeholder (customer_id 0) is shared by
    strangers: anchoring on it would give their findings the same id, so it is used
    only when a component has nothing else."""
    values = links.values
    n_components = int(components.max()) + 1 if len(components) else 0
    anchored = np.zeros(n_components, dtype=bool)
    rank = np.full(n_components, -1, dtype=np.int64)
    anchor_code = np.full(n_components, -1, dtype=np.int64)
    # Per kind: the rank of each value ranked last (by code less the kind's first code).
    rank_of_value: dict[str, np.ndarray] = {}
    for placeholder_pass in (False, True):
        for kind_rank, kind in enumerate(kinds):
            rows, codes = links.held[kind]
            usable = (left_out[codes] == placeholder_pass) & ~anchored[components[rows]]
            if not usable.any():
                continue
            rows, codes = rows[usable], codes[usable]
            # Sorting the values is the cost: only those held here are ranked, with
            # those already anchoring this kind, so that all of a kind's anchors are
            # ranked on one scale.
            start, stop = values.span(kind)
            is_candidate = np.zeros(stop - start, dtype=bool)
            is_candidate[codes - start] = True
            is_candidate[anchor_code[rank == kind_rank] - start] = True
            candidates = np.flatnonzero(is_candidate)
            candidate_rank = values.sorted_ranks(kind, candidates)
            rank_of_value[kind] = np.zeros(stop - start, dtype=np.int64)
            rank_of_value[kind][candidates] = candidate_rank
            code_of_rank = np.empty(len(candidates), dtype=np.int64)
            code_of_rank[candidate_rank] = start + candidates
            smallest = np.full(n_components, len(candidates), dtype=np.int64)
            np.minimum.at(smallest, components[rows], rank_of_value[kind][codes - start])
            targets = np.flatnonzero(smallest < len(candidates))
            anchored[targets] = True
            rank[targets] = kind_rank
            anchor_code[targets] = code_of_rank[smallest[targets]]
    present = np.flatnonzero(anchored)
    value_rank = np.zeros(len(present), dtype=np.int64)
    for kind_rank, kind in enumerate(kinds):
        of_kind = rank[present] == kind_rank
        if of_kind.any():
            start, _ = values.span(kind)
            value_rank[of_kind] = rank_of_value[kind][anchor_code[present[of_kind]] - start]
    return _Anchors(
        present,
        rank[present],
        np.asarray(kinds, dtype=object)[rank[present]],
        values.value_of(anchor_code[present]),
        value_rank,
    )


def _conflicts(
    records: pd.DataFrame,
    strong_keys: list[str],
    person_of_record: pd.Series,
    links: _Links,
    left_out: np.ndarray,
) -> pd.DataFrame:
    parts = []
    person = person_of_record.to_numpy()
    for kind in strong_keys:
        if kind not in records.columns:
            continue
        if kind in links.held:
            rows, codes = links.held[kind]
            # A placeholder (customer_id 0) says nothing about who someone is.
            rows, codes = rows[~left_out[codes]], codes[~left_out[codes]]
            n_values, value_of = len(links.values), links.values.value_of
        else:
            # Not an identifier kind: it links nothing, so nothing of it is left out.
            values = records[kind].to_numpy()
            rows = np.flatnonzero(pd.notna(values))
            codes, uniques = pd.factorize(values[rows])
            n_values, value_of = len(uniques), np.asarray(uniques).take
        if not len(codes):
            continue
        # The distinct (person, value) pairs of the persons holding two values
        # or more only (hashing every pair would cost the most).
        holder = person[rows]
        conflicted = _holding_several(holder, codes, int(holder.max()) + 1)[holder]
        if not conflicted.any():
            continue
        pairs = pd.unique(holder[conflicted] * n_values + codes[conflicted])
        pair_person, pair_code = pairs // n_values, pairs % n_values
        frame = pd.DataFrame({"person_id": pair_person, "value": value_of(pair_code)}).sort_values(
            ["person_id", "value"]
        )
        grouped = frame.groupby("person_id")["value"].agg(list)
        parts.append(
            pd.DataFrame(
                {"person_id": grouped.index.to_numpy(), "kind": kind, "values": grouped.to_numpy()}
            )
        )
    if not parts:
        return pd.DataFrame({"person_id": pd.Series(dtype="int64"), "kind": [], "values": []})
    return pd.concat(parts, ignore_index=True).sort_values(["person_id", "kind"], ignore_index=True)
