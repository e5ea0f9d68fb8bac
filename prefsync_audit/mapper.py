"""Stage 2 — map: apply a mapping to loaded exports, giving canonical tables.

Out of each file come:

* **records** – one row per usable source row: provenance and normalized
  identifiers (identifiers live here once, not on every observation);
* **observations** – one row per (record, preference key) with its state;
* **quarantine** – rows that could not be used, with the reason;
* **unmapped** – values the mapping's vocabulary does not know (their
  observations are ``unknown``, never ``granted``).

Every input row ends up mapped, quarantined or ignored, and the per-file
accounting says how many of each. With ``explode`` a row is one array element
of a record (or the record itself when its array is empty); see
``mapper_expand`` for how such rows become records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa

from prefsync_audit._codes import arrow_text, as_objects, code_type, filled
from prefsync_audit._stack import constant_column, stack_columns
from prefsync_audit._threads import ordered_map
from prefsync_audit.config import IdentityConfig
from prefsync_audit.errors import InputError
from prefsync_audit.load import ROW, RawTable
from prefsync_audit.mapper_expand import (
    expand_pattern_rule,
    first_usable_of_record,
    identifiers_are_per_record,
    pack_values,
    reads_elements,
    repeat_columns,
)
from prefsync_audit.mapper_signals import apply_signal_rule
from prefsync_audit.mapping import (
    ColumnValue,
    KeyFromColumn,
    ListSpec,
    Mapping,
    PreferenceRule,
    StateFromColumn,
    TimestampSpec,
)
from prefsync_audit.normalize import (
    BUILTIN_VOCABULARIES,
    distinct_texts,
    identifier_fast_path,
    identifier_normalizer,
    map_distinct,
    parse_timestamps,
    vocabulary_key,
)
from prefsync_audit.vocab import DEFAULT_NORMALIZER, State

OBSERVATION_COLUMNS = [
    "record_key",
    "purpose",
    "channel",
    "scope",
    "state",
    "raw_value",
    "source_column",
    "updated_at",
    "capture_source",
    "proof",
]
#: Observation columns of repeated text: categorical from the mapper on (besides
#: ``system``, added when files are joined); ``proof`` (mostly ids) stays text.
OBSERVATION_TEXT = [
    c for c in OBSERVATION_COLUMNS if c not in ("record_key", "updated_at", "proof")
]
QUARANTINE_COLUMNS = ["system", "source_file", "source_row", "reason"]
UNMAPPED_COLUMNS = ["record_key", "system", "source_column", "raw_value"]
INPUT_COLUMNS = [
    "system",
    "path",
    "sha256",
    "rows_read",
    "rows_mapped",
    "rows_quarantined",
    "rows_ignored",
]


@dataclass
class MappedFile:
    """The canonical tables made from one export file (record keys are file-local)."""

    records: pd.DataFrame
    observations: pd.DataFrame
    quarantine: pd.DataFrame
    unmapped: pd.DataFrame
    invalid_identifiers: dict[str, int]
    accounting: dict[str, object]


class _Columns:
    """Column access that remembers which mapped columns the file lacks.

    A file read for mapping holds its columns of repeated values as categoricals
    (see ``load_file``). ``coded=True`` takes such a column as it is, for a
    caller that only looks values up per distinct value, tests for missing
    values or takes rows; every other caller gets ``str``/``None`` objects."""

    def __init__(self, frame: pd.DataFrame, strict: bool) -> None:
        self.frame = frame
        self.strict = strict
        self.missing: list[str] = []
        self._objects: dict[str, pd.Series] = {}

    def get(self, name: str, coded: bool = False) -> pd.Series:
        if name not in self.frame.columns:
            self.missing.append(name)
            return pd.Series([None] * len(self.frame), index=self.frame.index, dtype="object")
        column = self.frame[name]
        if coded or not isinstance(column.dtype, pd.CategoricalDtype):
            return column
        if name not in self._objects:
            self._objects[name] = as_objects(column)
        return self._objects[name]

    def first_present(self, names: list[str], coded: bool = False) -> pd.Series:
        """Coalesce several columns in order (the first non-empty wins)."""
        available = [n for n in names if n in self.frame.columns]
        if not available:
            self.missing.append(" or ".join(names))
            return pd.Series([None] * len(self.frame), index=self.frame.index, dtype="object")
        # Coalescing writes one column's values into another: not into categories.
        columns = [self.get(name, coded and len(available) == 1) for name in available]
        if len(columns) > 1 and any(isinstance(c.dtype, pd.StringDtype) for c in columns):
            # Text in Arrow coalesced with objects would become objects.
            columns = [c.astype("str") for c in columns]
        result = columns[0]
        for column in columns[1:]:
            result = result.where(result.notna(), column)
        return result

    def value(self, spec: ColumnValue | None, coded: bool = False) -> pd.Series:
        if spec is None:
            return pd.Series([None] * len(self.frame), index=self.frame.index, dtype="object")
        if spec.column is not None:
            return self.get(spec.column, coded)
        return pd.Series([spec.value] * len(self.frame), index=self.frame.index, dtype="object")


#: Rows mapped at a time. A batch's columns (8 MiB per column of objects or
#: int64) come from the heap the batch before freed, where a whole file's columns
#: of tens of millions of rows would each be mapped afresh from the kernel and
#: cleared again (see ``policy.BATCH_ROWS``).
BATCH_ROWS = 1 << 20


@dataclass
class _Batch:
    """What one batch of a file's rows maps to (record keys file-local)."""

    records: pd.DataFrame
    observations: list[tuple[int, pd.DataFrame]]
    """Per preference rule (its position in the mapping): its observations."""
    unmapped: list[tuple[int, pd.DataFrame]]
    quarantined: pd.DataFrame
    invalid_identifiers: dict[str, int]
    rows_mapped: int
    rows_ignored: int


def map_file(
    table: RawTable,
    mapping: Mapping,
    identity: IdentityConfig,
    strict_columns: bool,
    workers: int = 1,
) -> MappedFile:
    """Apply ``mapping`` to one loaded file, ``workers`` batches of rows at a time.

    ``strict_columns``: a mapped column missing from the file is an error (CSV,
    Parquet); for JSON a missing key just means no value.
    """
    frame = table.frame.reset_index(drop=True)

    def map_batch(span: tuple[int, int]) -> _Batch:
        rows = frame.iloc[span[0] : span[1]].reset_index(drop=True)
        return _map_rows(rows, table, mapping, identity, strict_columns)

    # Batches are independent: a file much larger than the others (a consent
    # platform's rows per purpose) is mapped on every worker rather than one.
    batches = list(ordered_map(map_batch, _row_batches(frame, mapping), workers))
    records_before = 0
    for batch in batches:
        # Each batch numbers its records from 0: after the earlier batches' records.
        for _, part in [*batch.observations, *batch.unmapped]:
            part["record_key"] += records_before
        records_before += len(batch.records)

    records = (
        batches[0].records
        if len(batches) == 1
        else pd.concat([batch.records for batch in batches], ignore_index=True)
    )
    # Each rule's observations together, in the order of the rules, as one
    # batch would give them.
    observations = _in_rule_order(
        [part for batch in batches for part in batch.observations],
        OBSERVATION_COLUMNS[1:],
        OBSERVATION_TEXT,
    )
    unmapped = _in_rule_order(
        [part for batch in batches for part in batch.unmapped], UNMAPPED_COLUMNS[2:]
    )
    quarantined = pd.concat([batch.quarantined for batch in batches], ignore_index=True)
    if len(table.bad_rows):
        bad = table.bad_rows.rename(columns={ROW: "source_row"})
        quarantined = pd.concat([quarantined, bad], ignore_index=True)
    quarantined = quarantined.sort_values("source_row", kind="stable").reset_index(drop=True)
    invalid_counts = {
        kind: sum(batch.invalid_identifiers[kind] for batch in batches)
        for kind in batches[0].invalid_identifiers
    }
    accounting = {
        "rows_read": table.rows_read,
        "rows_mapped": sum(batch.rows_mapped for batch in batches),
        "rows_quarantined": len(quarantined),
        "rows_ignored": sum(batch.rows_ignored for batch in batches),
    }
    return MappedFile(records, observations, quarantined, unmapped, invalid_counts, accounting)


def _row_batches(frame: pd.DataFrame, mapping: Mapping) -> list[tuple[int, int]]:
    """(start, stop) of each batch of rows; with ``explode``, a source record's
    rows (consecutive) in one batch."""
    n = len(frame)
    starts = np.arange(0, n, BATCH_ROWS)
    if mapping.explode and len(starts) > 1:
        source_rows = frame[ROW].to_numpy()
        first_of_record = np.flatnonzero(np.r_[True, source_rows[1:] != source_rows[:-1]])
        at = np.searchsorted(first_of_record, starts)
        starts = np.unique(first_of_record[at[at < len(first_of_record)]])
    bounds = [*starts.tolist(), n] if n else [0, 0]
    return list(pairwise(bounds))


def _map_rows(
    frame: pd.DataFrame,
    table: RawTable,
    mapping: Mapping,
    identity: IdentityConfig,
    strict_columns: bool,
) -> _Batch:
    """Map one batch of a file's rows (index 0…n-1); its records are numbered
    from 0."""
    columns = _Columns(frame, strict_columns)
    n = len(frame)
    reasons = pd.Series([None] * n, dtype="object")
    ignored = _ignored_rows(columns, mapping)

    identifiers, invalid_counts, invalid_mask = _identifiers(columns, mapping, identity)
    has_identifier = identifiers.notna().any(axis=1) if len(identifiers.columns) else False
    no_id = ~has_identifier
    reasons[no_id & invalid_mask] = "no usable identifier (invalid values)"
    reasons[no_id & ~invalid_mask] = "no identifier"

    updated_at = _timestamps(columns, mapping.updated_at, reasons, n)
    capture_source = columns.value(mapping.capture_source, coded=True)
    proof = columns.value(mapping.proof)
    vocabularies = {**BUILTIN_VOCABULARIES, **mapping.vocabularies}

    observation_parts, unmapped_parts = [], []
    # With explode, rules that read no element field apply once per source record.
    per_record = bool(mapping.explode) and identifiers_are_per_record(mapping)
    for number, rule in enumerate(mapping.preferences):
        rule_time = (
            _timestamps(columns, rule.updated_at, reasons, n) if rule.updated_at else updated_at
        )
        if rule.signal is not None:
            observations, unmapped = apply_signal_rule(rule, rule.signal, columns, reasons)
        else:
            observations, unmapped = _apply_rule(rule, columns, vocabularies)
        once = per_record and not reads_elements(rule, mapping.explode or "")
        if not unmapped.empty:
            unmapped_parts.append((number, once, unmapped))
        if observations.empty:
            continue
        rows = observations["row"].to_numpy()
        # Take from the datetime array: to_numpy() on a tz-aware column boxes every value.
        observations["updated_at"] = rule_time.array.take(rows)
        source = capture_source
        if rule.capture_source:
            source = columns.value(rule.capture_source, coded=True)
        observations["capture_source"] = source.array.take(rows)
        rule_proof = columns.value(rule.proof) if rule.proof else proof
        # Proofs are ids: kept in Arrow when the reader left them there.
        observations["proof"] = rule_proof.array.take(rows)
        observation_parts.append((number, once, observations))

    if columns.strict and columns.missing:
        missing = ", ".join(dict.fromkeys(columns.missing))
        raise InputError(
            f"{table.path}: mapped column(s) not in the file: {missing} (system {table.system})"
        )

    reasons[ignored] = None
    usable = (~ignored & reasons.isna()).to_numpy()
    source_rows = frame[ROW].to_numpy()
    first = first_usable_of_record(source_rows, usable) if mapping.explode else usable
    # File-local record keys: the position among usable rows (with explode and
    # per-record identifiers: among the records' first usable rows).
    local_key = np.full(n, -1, dtype="int64")
    if per_record:
        positions = np.flatnonzero(first)
        codes = pd.Series(np.arange(len(positions)), index=source_rows[positions])
        local_key[usable] = codes.reindex(source_rows[usable]).to_numpy()
    else:
        positions = np.flatnonzero(usable)
        local_key[positions] = np.arange(len(positions))
    records = identifiers.iloc[positions].reset_index(drop=True)
    records.insert(0, "source_row", source_rows[positions])
    if mapping.record_id:
        record_ids = columns.get(mapping.record_id).array.take(positions)
    else:
        # All missing, as the Arrow text the stacked column becomes: a None object a
        # row would each be converted there (17M rows of consent receipts at 5M persons).
        record_ids = arrow_text(pa.nulls(len(positions), pa.large_string())).array
    records.insert(1, "record_id", record_ids)

    keep = {False: usable, True: first}
    quarantined = pd.DataFrame(
        {
            "source_row": source_rows[reasons.notna().to_numpy()],
            "reason": reasons[reasons.notna()].to_numpy(),
        }
    )
    return _Batch(
        records,
        [(number, _kept(p, keep[once], local_key)) for number, once, p in observation_parts],
        [(number, _kept(p, keep[once], local_key)) for number, once, p in unmapped_parts],
        quarantined,
        invalid_counts,
        int(usable.sum()),
        int(ignored.sum()),
    )


def _kept(part: pd.DataFrame, mask: np.ndarray, local_key: np.ndarray) -> pd.DataFrame:
    """A rule's rows where ``mask`` is true, keyed by record instead of row."""
    rows = part["row"].to_numpy(dtype="int64")
    keep = mask[rows]
    return part[keep].drop(columns="row").assign(record_key=local_key[rows[keep]])


def _in_rule_order(
    parts: list[tuple[int, pd.DataFrame]], columns: list[str], categorical: Sequence[str] = ()
) -> pd.DataFrame:
    """The parts of every batch, rule by rule (each rule's batches in order);
    the ``categorical`` columns come out categorical, joined by their codes."""
    if not parts:
        # Typed like a full part: an object column here would make the
        # concatenation of every file's observations an object column.
        return pd.DataFrame(
            {
                "record_key": pd.Series(dtype="int64"),
                **{
                    c: pd.Series(dtype="datetime64[ns, UTC]" if c == "updated_at" else "object")
                    for c in columns
                },
            }
        )
    # A stable sort: each rule's parts stay in batch order.
    ordered = [part for _, part in sorted(parts, key=lambda numbered: numbered[0])]
    # Not pd.concat: it makes text of categoricals whose categories differ.
    return stack_columns(ordered, ["record_key", *columns], dict.fromkeys(categorical))


def _ignored_rows(columns: _Columns, mapping: Mapping) -> pd.Series:
    ignored = pd.Series(False, index=columns.frame.index)
    for row_filter in mapping.ignore_rows:
        values = columns.get(row_filter.column, coded=True)
        if row_filter.empty:
            ignored |= values.isna() | (values.astype("string").str.strip() == "").fillna(True)
        if row_filter.values:
            wanted = {vocabulary_key(v) for v in row_filter.values}
            matches = map_distinct(values, lambda v, wanted=wanted: vocabulary_key(v) in wanted)
            ignored |= matches.fillna(False).astype(bool)
    return ignored


def _identifiers(
    columns: _Columns, mapping: Mapping, identity: IdentityConfig
) -> tuple[pd.DataFrame, dict[str, int], pd.Series]:
    normalized: dict[str, pd.Series] = {}
    invalid_counts: dict[str, int] = {}
    invalid_any = pd.Series(False, index=columns.frame.index)
    for kind, spec in mapping.identifiers.items():
        normalizer_name = spec.normalizer or DEFAULT_NORMALIZER.get(kind, "id")
        region = spec.default_region or identity.default_region
        normalizer = identifier_normalizer(kind, normalizer_name, spec.profile, region)
        fast_path = identifier_fast_path(normalizer_name, region)
        names = [spec.column]
        if spec.repeated:
            names += repeat_columns(columns.frame, spec.column)
        invalid_counts[kind] = 0
        kind_values = []
        for name in names:
            raw = _blank_as_missing(columns.get(name, coded=True))
            values = map_distinct(raw, normalizer, fast_path)
            invalid = raw.notna() & values.isna()
            invalid_counts[kind] += int(invalid.sum())
            invalid_any |= invalid
            kind_values.append(values)
        if len(kind_values) == 1:
            normalized[kind] = kind_values[0]
        else:
            normalized.update(pack_values(kind, kind_values, columns.frame.index))
    return pd.DataFrame(normalized, index=columns.frame.index), invalid_counts, invalid_any


def _blank_as_missing(raw: pd.Series) -> pd.Series:
    """Values of only whitespace read as missing (tested once per distinct value
    when values repeat, in Arrow otherwise)."""
    return raw.where(filled(raw, np.ones(len(raw), dtype=bool)))


def _timestamps(
    columns: _Columns, spec: TimestampSpec | None, reasons: pd.Series, n: int
) -> pd.Series:
    if spec is None:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    raw = _blank_as_missing(columns.first_present(spec.columns, coded=True))
    parsed, bad = parse_timestamps(raw, spec)
    label = " or ".join(spec.columns)
    reasons[bad & reasons.isna()] = f"unreadable timestamp in {label}"
    return parsed


def _apply_rule(
    rule: PreferenceRule, columns: _Columns, vocabularies: dict[str, dict[str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observations (with a ``row`` position) and unmapped values of one rule."""
    if rule.list is not None:
        return _apply_list_rule(rule, rule.list, columns)
    if isinstance(rule.state, StateFromColumn) and rule.state.column_pattern is not None:
        concrete, unmapped_columns = expand_pattern_rule(rule, columns.frame)
        outputs = [_apply_rule(each, columns, vocabularies) for each in concrete]
        observations = [o for o, _ in outputs if not o.empty]
        unmapped_parts = [u for _, u in outputs if not u.empty]
        if not unmapped_columns.empty:
            unmapped_parts.append(unmapped_columns)
        return (
            pd.concat(observations, ignore_index=True)
            if observations
            else pd.DataFrame(columns=["row", *OBSERVATION_COLUMNS[1:7]]),
            pd.concat(unmapped_parts, ignore_index=True)
            if unmapped_parts
            else pd.DataFrame(columns=["row", "source_column", "raw_value"]),
        )
    n = len(columns.frame)
    rows = pd.Series(np.arange(n))
    unmapped = []
    parts = {}
    keep = pd.Series(True, index=rows.index)
    for part in ("purpose", "channel", "scope"):
        spec = getattr(rule, part)
        if isinstance(spec, KeyFromColumn):
            raw = columns.get(spec.column, coded=True)
            codes, texts = distinct_texts(raw)
            if spec.values is None:
                values = _coded(codes, [vocabulary_key(v).replace(" ", "_") for v in texts])
            else:
                lookup = {vocabulary_key(k): v for k, v in spec.values.items()}
                values = _coded(codes, [lookup.get(vocabulary_key(v), spec.default) for v in texts])
                unknown = raw.notna() & values.isna()
                unmapped.append(
                    pd.DataFrame(
                        {
                            "row": rows[unknown],
                            "source_column": spec.column,
                            "raw_value": as_objects(raw[unknown]),
                        }
                    )
                )
            keep &= values.notna() & (values != "ignore")
            parts[part] = values
        else:
            parts[part] = pd.Series(constant_column(spec, n))

    if isinstance(rule.state, StateFromColumn):
        spec = rule.state
        raw = _blank_as_missing(columns.get(spec.column, coded=True))
        if spec.vocabulary and spec.vocabulary not in vocabularies:
            raise InputError(f"unknown vocabulary {spec.vocabulary!r}")
        vocabulary = vocabularies.get(spec.vocabulary, {}) if spec.vocabulary else {}
        lookup = {vocabulary_key(k): v for k, v in vocabulary.items()}
        if spec.invert:
            # `invert` reads an "opted out" boolean; values written out under
            # `values` already say what they mean and are never flipped.
            swap = {"granted": "denied", "denied": "granted"}
            lookup = {k: swap.get(v, v) for k, v in lookup.items()}
        lookup.update({vocabulary_key(k): v for k, v in spec.values.items()})
        # A value outside the vocabulary is unknown (never granted) and reported.
        codes, texts = distinct_texts(raw)
        looked_up = [lookup.get(vocabulary_key(v)) for v in texts]
        known = np.array([state is not None for state in looked_up] + [True])  # -1: missing
        unknown = pd.Series(~known[codes])
        states = _coded(codes, [State.UNKNOWN.value if s is None else s for s in looked_up])
        unmapped.append(
            pd.DataFrame(
                {
                    "row": rows[unknown & keep],
                    "source_column": spec.column,
                    "raw_value": as_objects(raw[unknown & keep]),
                }
            )
        )
        keep &= raw.notna() & (states != "ignore")
        raw_value, source_column = _coded(codes, texts), spec.column
    else:
        states = pd.Series(constant_column(rule.state.value, n))
        raw_value, source_column = pd.Series(constant_column("(present)", n)), None

    observations = pd.DataFrame(
        {
            "row": rows[keep],
            "purpose": parts["purpose"][keep],
            "channel": parts["channel"][keep],
            "scope": parts["scope"][keep],
            "state": states[keep],
            "raw_value": raw_value[keep],
            "source_column": constant_column(source_column, int(keep.sum())),
        }
    )
    unmapped_frame = (
        pd.concat(unmapped, ignore_index=True)
        if unmapped
        else pd.DataFrame(columns=["row", "source_column", "raw_value"])
    )
    return observations.reset_index(drop=True), unmapped_frame


def _coded(codes: np.ndarray, results: list[str | None]) -> pd.Series:
    """A categorical of each row's result (``results`` by code; code -1 and a
    result None are missing). Observations' key parts, states and raw values
    repeat: as codes they join the other files' without being hashed again."""
    result_codes, categories = pd.factorize(np.array([*results, None], dtype=object))
    narrow = result_codes.astype(code_type(len(categories)))  # the last: code -1
    return pd.Series(
        pd.Categorical.from_codes(narrow[codes], categories=pd.Index(categories, dtype=object))
    )


def _parse_list(value: str, separator: str) -> tuple[str, ...]:
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = text.strip("[]").split(",")
        if isinstance(items, list):
            return tuple(str(i).strip().strip('"') for i in items if str(i).strip())
    return tuple(part.strip() for part in text.split(separator) if part.strip())


def _apply_list_rule(
    rule: PreferenceRule, spec: ListSpec, columns: _Columns
) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = columns.get(spec.column, coded=True)
    parsed = map_distinct(raw, lambda v: _parse_list(v, spec.separator))
    present = parsed.dropna().explode().dropna()
    present = pd.DataFrame({"row": present.index.to_numpy(), "item": present.to_numpy()})
    items = pd.DataFrame(
        [
            {
                "item": item_id,
                "purpose": item.purpose or rule.purpose,
                "channel": item.channel or rule.channel,
                "scope": item.scope or rule.scope,
            }
            for item_id, item in spec.items.items()
        ]
    )
    known = present["item"].isin(items["item"])
    unmapped = pd.DataFrame(
        {
            "row": present.loc[~known, "row"].to_numpy(),
            "source_column": spec.column,
            "raw_value": present.loc[~known, "item"].to_numpy(),
        }
    )
    hits = present[known].merge(items, on="item")
    hits["state"] = spec.present
    frames = [hits]
    if spec.absent is not None:
        listed_rows = parsed.dropna().index.to_numpy()
        every = pd.DataFrame({"row": listed_rows}).merge(items, how="cross")
        every = every.merge(hits[["row", "item"]], on=["row", "item"], how="left", indicator=True)
        missing = every[every["_merge"] == "left_only"].drop(columns="_merge")
        missing["state"] = spec.absent
        frames.append(missing)
    observations = pd.concat(frames, ignore_index=True)
    observations["raw_value"] = observations["item"].map(
        lambda i: f"{i} listed" if i is not None else None
    )
    observations.loc[observations["state"] != spec.present, "raw_value"] = (
        observations["item"] + " not listed"
    )
    observations["source_column"] = spec.column
    observations = observations.sort_values(["row", "item"], kind="stable")
    return observations.drop(columns="item").reset_index(drop=True), unmapped
