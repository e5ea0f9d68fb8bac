"""Load a vendor fixture with a preset, the way an audit does, and read back the
canonical rows as plain tuples that a test can compare exactly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prefsync_audit.config import IdentityConfig, load_mapping
from prefsync_audit.load import detect_format, load_file
from prefsync_audit.mapper import OBSERVATION_COLUMNS, MappedFile, map_file
from prefsync_audit.mapping import Mapping

REPO = Path(__file__).resolve().parents[2]
VENDORS = REPO / "sample_exports" / "vendors"


def preset(name: str) -> Mapping:
    return load_mapping(f"preset:{name}", REPO)


def map_fixture(name: str, file_name: str, mapping: Mapping | None = None) -> MappedFile:
    """Map ``sample_exports/vendors/<name>/<file_name>`` with ``preset:<name>``
    (or ``mapping``); CSV headers are checked strictly, JSON keys are not."""
    mapping = mapping or preset(name)
    path = VENDORS / name / file_name
    table = load_file(path, mapping, name, path)
    # As the audit does: a mapped column missing from a CSV header is an error,
    # a key missing from JSON records is just a missing value.
    strict = detect_format(path, mapping) not in ("json", "jsonl")
    mapped = map_file(table, mapping, IdentityConfig(), strict_columns=strict)
    acc = mapped.accounting
    # Every row read is accounted for.
    assert acc["rows_read"] == acc["rows_mapped"] + acc["rows_quarantined"] + acc["rows_ignored"]
    assert list(mapped.observations.columns) == OBSERVATION_COLUMNS
    return mapped


def _text(value: object) -> object:
    if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat().replace("+00:00", "Z")
    return value


def counts(mapped: MappedFile) -> tuple[int, int, int, int]:
    """(rows_read, rows_mapped, rows_quarantined, rows_ignored)."""
    acc = mapped.accounting
    return acc["rows_read"], acc["rows_mapped"], acc["rows_quarantined"], acc["rows_ignored"]


def records(mapped: MappedFile, *kinds: str) -> list[tuple]:
    """(source_row, record_id, *identifiers) per mapped record, in row order."""
    frame = mapped.records[["source_row", "record_id", *kinds]]
    return [tuple(_text(v) for v in row) for row in frame.itertuples(index=False)]


def observations(mapped: MappedFile) -> list[tuple]:
    """(source_row, purpose, channel, scope, state, raw_value, updated_at,
    capture_source, proof) per observation, sorted."""
    rows = mapped.records["source_row"].to_numpy()
    result = []
    for obs in mapped.observations.itertuples(index=False):
        result.append(
            (
                int(rows[obs.record_key]),
                obs.purpose,
                obs.channel,
                obs.scope,
                obs.state,
                _text(obs.raw_value),
                _text(obs.updated_at),
                _text(obs.capture_source),
                _text(obs.proof),
            )
        )
    return sorted(result, key=repr)


def quarantine(mapped: MappedFile) -> list[tuple[int, str]]:
    return [(int(r), str(reason)) for r, reason in mapped.quarantine.itertuples(index=False)]


def unmapped(mapped: MappedFile) -> list[tuple[int, str, str]]:
    """(source_row, source_column, raw_value) of values the mapping does not know."""
    rows = mapped.records["source_row"].to_numpy()
    return sorted(
        (int(rows[u.record_key]), u.source_column, str(u.raw_value))
        for u in mapped.unmapped.itertuples(index=False)
    )
