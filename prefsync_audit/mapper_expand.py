"""Rules and rows that expand: column patterns and exploded arrays.

* A **column pattern** (``state: {column_pattern: 'hs_email_optout_(\\d+)'}``)
  stands for one wide rule per matching header; key parts written
  ``{group: 1, values: …}`` take their value from the match. A matched value
  the ``values`` map does not know makes that column's non-blank cells
  unmapped values (``raw_value`` = the matched text), never observations.
* A **repeated identifier** column (``Email``, ``Email#2``…) gives several
  values of one kind per row: the distinct ones, packed as ``kind``,
  ``kind#2``… on the record, every one of which links.
* With ``explode``, a record with several array elements is several rows. A
  rule that reads no element field says the same thing on each of them, so it
  is applied once per record, on the record's first usable row; and when the
  identifiers are the record's own, the rows of one record make one canonical
  record.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from prefsync_audit.load import ROW
from prefsync_audit.mapping import KeyFromColumn, Mapping, PreferenceRule, StateFromColumn
from prefsync_audit.normalize import vocabulary_key

_PARTS = ("purpose", "channel", "scope")


def _group_value(spec: KeyFromColumn, match: re.Match[str]) -> str | None:
    """The canonical key part for a match, ``ignore``, or ``None`` when unknown."""
    text = match.group(spec.group)  # type: ignore[arg-type]
    if text is None:
        return None
    if spec.values is None:
        return vocabulary_key(text).replace(" ", "_")
    lookup = {vocabulary_key(k): v for k, v in spec.values.items()}
    return lookup.get(vocabulary_key(text), spec.default)


def expand_pattern_rule(
    rule: PreferenceRule, frame: pd.DataFrame
) -> tuple[list[PreferenceRule], pd.DataFrame]:
    """The concrete rules of a column-pattern rule, and the unmapped values of the
    columns whose matched text the ``values`` map does not know."""
    assert isinstance(rule.state, StateFromColumn) and rule.state.column_pattern
    pattern = re.compile(rule.state.column_pattern)
    concrete: list[PreferenceRule] = []
    unmapped: list[pd.DataFrame] = []
    for name in frame.columns:
        match = pattern.fullmatch(str(name)) if name != ROW else None
        if match is None:
            continue
        update: dict[str, object] = {
            "state": rule.state.model_copy(update={"column": name, "column_pattern": None})
        }
        unknown: str | None = None
        skip = False
        for part in _PARTS:
            spec = getattr(rule, part)
            if not isinstance(spec, KeyFromColumn) or spec.group is None:
                continue
            value = _group_value(spec, match)
            if value is None:
                unknown = match.group(spec.group) or ""  # type: ignore[arg-type]
                break
            if value == "ignore":
                skip = True
                break
            update[part] = value
        if skip:
            continue
        if unknown is not None:
            cells = frame[name]
            present = cells.notna() & (cells.astype("string").str.strip().fillna("") != "")
            rows = np.flatnonzero(present.to_numpy())
            unmapped.append(
                pd.DataFrame({"row": rows, "source_column": name, "raw_value": unknown})
            )
            continue
        concrete.append(rule.model_copy(update=update))
    frame_out = (
        pd.concat(unmapped, ignore_index=True)
        if unmapped
        else pd.DataFrame(columns=["row", "source_column", "raw_value"])
    )
    return concrete, frame_out


def _under(column: str | None, prefix: str) -> bool:
    return column is not None and (column == prefix or column.startswith(prefix + "."))


def reads_elements(rule: PreferenceRule, explode: str) -> bool:
    """True when the rule's key parts, state, list or signal read an exploded field."""
    columns: list[str | None] = []
    for part in _PARTS:
        value = getattr(rule, part)
        if isinstance(value, KeyFromColumn):
            columns.append(value.column)
    if isinstance(rule.state, StateFromColumn):
        columns.append(rule.state.column)
        if rule.state.column_pattern and rule.state.column_pattern.startswith(re.escape(explode)):
            return True
    if rule.list is not None:
        columns.append(rule.list.column)
    if rule.signal is not None:
        columns.append(rule.signal.column)
    return any(_under(column, explode) for column in columns)


def identifiers_are_per_record(mapping: Mapping) -> bool:
    """True when no identifier (nor the record id) is read from an exploded field."""
    assert mapping.explode
    columns = [spec.column for spec in mapping.identifiers.values()] + [mapping.record_id]
    return not any(_under(column, mapping.explode) for column in columns)


def first_usable_of_record(source_rows: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Mask of the first usable row of each source record."""
    first = np.zeros(len(source_rows), dtype=bool)
    positions = np.flatnonzero(usable)
    _, index = np.unique(source_rows[positions], return_index=True)
    first[positions[index]] = True
    return first


def repeat_columns(frame: pd.DataFrame, column: str) -> list[str]:
    """The loader's names for repeats of ``column``: ``column#2``, ``column#3``…"""
    prefix = column + "#"
    found = [c for c in frame.columns if c.startswith(prefix) and c[len(prefix) :].isdigit()]
    return sorted(found, key=lambda c: int(c[len(prefix) :]))


def pack_values(kind: str, values: list[pd.Series], index: pd.Index) -> dict[str, pd.Series]:
    """Several values of one kind per row: the distinct ones, in column order, as
    ``kind``, ``kind#2``… (``resolve`` links every one of them)."""
    long = pd.concat(
        [pd.DataFrame({"pos": np.arange(len(v)), "value": v.to_numpy()}) for v in values],
        ignore_index=True,
    )
    long = long.dropna().drop_duplicates(["pos", "value"])
    long["rank"] = long.groupby("pos").cumcount()
    packed: dict[str, pd.Series] = {}
    for rank in range(int(long["rank"].max()) + 1 if len(long) else 1):
        name = kind if rank == 0 else f"{kind}#{rank + 1}"
        column = np.full(len(index), None, dtype="object")
        chosen = long[long["rank"] == rank]
        column[chosen["pos"].to_numpy()] = chosen["value"].to_numpy()
        packed[name] = pd.Series(column, index=index, dtype="object")
    return packed
