"""The whole pipeline as one call: ``run_audit(config) -> AuditResult``.

This module only wires the stages together (load → map → resolve → evaluate →
compare → metrics → thresholds); each stage lives in its own module and can be
called alone. Reading files happens here and in ``load``, nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from prefsync_audit import __version__
from prefsync_audit._archive import split_member
from prefsync_audit._codes import first_occurrences
from prefsync_audit._stack import constant_column, stack_columns
from prefsync_audit._threads import default_workers, ordered_map
from prefsync_audit.compare import find
from prefsync_audit.config import AuditConfig, load_config, utc_now
from prefsync_audit.errors import ConfigError
from prefsync_audit.load import RawTable, load_file, resolve_paths
from prefsync_audit.mapper import (
    INPUT_COLUMNS,
    OBSERVATION_COLUMNS,
    OBSERVATION_TEXT,
    MappedFile,
    map_file,
)
from prefsync_audit.metrics import compute_metrics, identity_metrics
from prefsync_audit.policy import Evaluation, evaluate, key_universe
from prefsync_audit.resolve import Resolution, hash_profiles, resolve_identities
from prefsync_audit.thresholds import ThresholdResult, check_thresholds, overall_status
from prefsync_audit.vocab import Status


@dataclass
class Canonical:
    """The canonical tables of every system, before identity resolution."""

    records: pd.DataFrame
    """One row per usable source row: record_key, system, source_file, source_row,
    record_id and one column per identifier kind (normalized). ``system`` and
    ``source_file`` are categorical; ``record_id`` and the identifiers are
    Arrow-backed text (``str``, missing values NaN)."""
    observations: pd.DataFrame
    """One row per (record, preference key): record_key, system, purpose, channel,
    scope, state, raw_value, source_column, updated_at, capture_source, proof.
    The text columns are categorical (sorted categories; ``system`` in config
    order), except ``proof``: Arrow-backed text (``str``)."""
    quarantine: pd.DataFrame
    """Rows that could not be used: system, source_file, source_row, reason."""
    unmapped: pd.DataFrame
    """Values outside a vocabulary: record_key, system, source_column, raw_value."""
    inputs: pd.DataFrame
    """Per file: system, path, sha256 and the row accounting."""
    invalid_identifiers: pd.DataFrame
    """Per system and kind: identifier values that failed normalization."""


@dataclass
class AuditResult:
    """Everything a run found: tables for analysis, a summary for reports."""

    config: AuditConfig
    as_of: datetime
    canonical: Canonical
    resolution: Resolution
    evaluation: Evaluation
    findings: pd.DataFrame
    metrics: dict[str, Any]
    identity: dict[str, Any]
    thresholds: list[ThresholdResult]
    status: Status
    tool_version: str = __version__
    persons_by_system: pd.DataFrame = field(default_factory=pd.DataFrame)
    sync_lags: dict[str, np.ndarray] = field(default_factory=dict)
    """Per system, the seconds from each deciding change to the system state that
    agrees with it: what ``sync_latency`` summarises."""

    @property
    def findings_by_kind(self) -> dict[str, int]:
        counts = self.findings["kind"].value_counts()
        return {kind: int(counts[kind]) for kind in sorted(counts.index)}


def system_sources(config: AuditConfig, system: str) -> list[Path | None]:
    """What one system is read from: its files in order, or ``[None]`` for its
    database query."""
    settings = config.systems[system]
    if settings.database is not None:
        return [None]
    return resolve_paths(settings.paths, config.base_dir, system)


def load_table(config: AuditConfig, system: str, path: Path | None) -> tuple[RawTable, bool]:
    """One table of a system (a file, or the database query when ``path`` is
    None), with whether a mapped column must exist in it (files and query
    results have a fixed header; JSON records may omit keys)."""
    mapping = config.mapping_of(system)
    if path is None:
        from prefsync_audit.sources import read_database

        database = config.systems[system].database
        if database is None:
            raise ValueError(f"system {system!r} has no database query to read")
        table = read_database(
            system, database, mapping, config.base_dir, config.allow_outside_paths
        )
        return table, True
    display = _display_path(path, config.base_dir)
    table = load_file(path, mapping, system, display, mapped_only=True)
    return table, not _is_json(path, mapping.format)


def mapped_tables(config: AuditConfig, workers: int = 1) -> list[tuple[RawTable, MappedFile]]:
    """Every table of every system, loaded and mapped, in config order.

    With several ``workers``, tables are loaded and mapped that many at a time
    (Arrow's parsing and most array work release the GIL), the largest files
    first: the longest one then runs beside all the others rather than last.
    An error is that of the first failing table in that order."""
    sources = [
        (system, path) for system in config.systems for path in system_sources(config, system)
    ]

    def load_and_map(source: tuple[str, Path | None]) -> tuple[RawTable, MappedFile]:
        system, path = source
        table, strict = load_table(config, system, path)
        mapping = config.mapping_of(system)
        mapped = map_file(table, mapping, config.identity, strict_columns=strict, workers=workers)
        # Only the table's provenance goes on: its text is not held past mapping.
        return replace(table, frame=table.frame.iloc[:0]), mapped

    order = list(range(len(sources)))
    if workers > 1:
        order.sort(key=lambda i: -_size_of(sources[i][1]))
    done = ordered_map(load_and_map, [sources[i] for i in order], workers)
    by_position = dict(zip(order, done, strict=True))
    return [by_position[position] for position in range(len(sources))]


def _size_of(path: Path | None) -> float:
    """A source's size in bytes as stored: a database query counts as the
    largest (its size is unknown); an unreadable file as empty (reading it fails);
    a member of a zip archive as the whole archive."""
    if path is None:
        return math.inf
    member = split_member(path)
    try:
        return (member[0] if member else path).stat().st_size
    except OSError:
        return 0


#: How many times its size a compressed export (gzip, zip, Parquet) holds as text,
#: roughly: the generated CSV exports compress about that much.
COMPRESSED_AS = 5


def exports_size(config: AuditConfig) -> float:
    """About how many bytes of text the audit's exports hold: files' sizes, a
    compressed file's counted :data:`COMPRESSED_AS` times; infinite when a system
    is read from a database (the size of a query's result is unknown)."""
    stored: dict[Path | None, float] = {}
    for system in config.systems:
        for path in system_sources(config, system):
            member = split_member(path) if path is not None else None
            # An archive counts once, whichever of its members are read.
            stored_as = member[0] if member else path
            stored[stored_as] = _size_of(stored_as)
    return sum(
        size * COMPRESSED_AS
        if path is not None and path.suffix.lower() in (".gz", ".zip", ".parquet", ".pq")
        else size
        for path, size in stored.items()
    )


def load_canonical(config: AuditConfig, workers: int = 1) -> Canonical:
    """Load and map every export of every system (stages 1 and 2), ``workers``
    files at a time."""
    records, observations, quarantine, unmapped, inputs, invalid = [], [], [], [], [], []
    next_key = 0
    for table, mapped in mapped_tables(config, workers):
        system, display = table.system, table.path
        file_records = mapped.records
        file_records.insert(0, "record_key", file_records.index + next_key)
        file_records.insert(1, "system", constant_column(system, len(file_records)))
        file_records.insert(2, "source_file", constant_column(str(display), len(file_records)))
        for frame in (mapped.observations, mapped.unmapped):
            frame["record_key"] = frame["record_key"] + next_key
        mapped.observations.insert(1, "system", constant_column(system, len(mapped.observations)))
        mapped.unmapped.insert(1, "system", system)
        next_key += len(file_records)
        records.append(file_records)
        observations.append(mapped.observations)
        unmapped.append(mapped.unmapped)
        mapped.quarantine.insert(0, "system", system)
        mapped.quarantine.insert(1, "source_file", str(display))
        quarantine.append(mapped.quarantine)
        inputs.append(
            {
                "system": system,
                "path": str(display),
                "sha256": table.sha256,
                **mapped.accounting,
            }
        )
        invalid += [
            {"system": system, "kind": kind, "values": count}
            for kind, count in mapped.invalid_identifiers.items()
            if count
        ]
    kinds = list(config.identity.kinds)
    systems = list(config.systems)
    record_columns = list(dict.fromkeys(c for frame in records for c in frame.columns))
    fixed = ["record_key", "system", "source_file", "source_row", "record_id", *kinds]
    extra = [c for c in record_columns if c not in fixed]
    # Identifiers are mostly distinct: as Arrow text they take a third of the
    # memory of Python strings, and resolution hashes them without touching objects.
    all_records = stack_columns(
        records,
        [*fixed, *extra],
        {"system": systems, "source_file": None},
        text=["record_id", *kinds, *extra],
    )
    all_observations = stack_columns(
        observations,
        ["record_key", "system", *OBSERVATION_COLUMNS[1:]],
        {"system": systems, **dict.fromkeys(OBSERVATION_TEXT)},
        text=["proof"],
    )
    all_observations["updated_at"] = pd.to_datetime(all_observations["updated_at"], utc=True)
    return Canonical(
        records=all_records,
        observations=all_observations,
        quarantine=pd.concat(quarantine, ignore_index=True),
        unmapped=pd.concat(unmapped, ignore_index=True),
        inputs=pd.DataFrame(inputs, columns=INPUT_COLUMNS),
        invalid_identifiers=pd.DataFrame(invalid, columns=["system", "kind", "values"]),
    )


def _display_path(path: Path, base_dir: Path) -> Path:
    try:
        return path.resolve().relative_to(base_dir)
    except ValueError:
        return path


def _is_json(path: Path, fmt: str | None) -> bool:
    if fmt:
        return fmt in ("json", "jsonl")
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".json", ".jsonl", ".ndjson"))


def run_audit(
    config: AuditConfig | str | Path,
    as_of: datetime | None = None,
    strict: bool = False,
    on_stage: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> AuditResult:
    """Run the whole audit and return its result.

    ``as_of`` is the audit's "now" (default: the config's ``as_of``, else the
    current time). ``strict`` turns unmapped values into an error. ``on_stage``
    is told the name of each stage as it starts (the CLI shows it as progress).
    ``workers`` is how many threads loading, mapping, resolution, evaluation and metrics
    use (default: the CPUs available, at most four); the result is the same for any number.
    """
    stage = on_stage or (lambda name: None)
    if not isinstance(config, AuditConfig):
        config = load_config(config)
    as_of = _as_of(as_of or config.as_of or utc_now())
    stage("reading and mapping exports")
    workers = default_workers() if workers is None else max(1, workers)
    canonical = load_canonical(config, workers)
    if strict and len(canonical.unmapped):
        first = canonical.unmapped.iloc[0]
        raise ConfigError(
            f"--strict: {len(canonical.unmapped)} unmapped value(s), first in system "
            f"{first['system']}, column {first['source_column']!r}: {first['raw_value']!r}"
        )

    records = canonical.records
    stage("resolving identities")
    resolution = resolve_identities(
        records,
        config.identity,
        hash_profiles([config.mapping_of(s) for s in config.systems]),
        workers,
    )
    person_of_record = resolution.person_of_record
    # Record keys are 0..n-1 in order: a record's key is its position. And a
    # shallow copy with one more column (copy-on-write: nothing else is copied).
    person_of_key = person_of_record.to_numpy()
    observations = canonical.observations.assign(
        person_id=person_of_key[canonical.observations["record_key"].to_numpy()]
    )
    # Each person's first record in each system, found on integer codes.
    system_code = records["system"].cat.codes.to_numpy().astype(np.int64)
    person_system = person_of_key * len(config.systems) + system_code
    first = np.flatnonzero(first_occurrences(person_system))
    persons_by_system = pd.DataFrame(
        {
            "person_id": person_of_key[first],
            # The records' own categories and codes: text would be a string a row.
            "system": pd.Categorical.from_codes(system_code[first], dtype=records["system"].dtype),
            "record_key": records["record_key"].to_numpy()[first],
        },
        index=first,
    )

    stage("deciding expected states")
    keys = key_universe(observations, persons_by_system, config)
    evaluation = evaluate(observations, keys, config, workers)
    stage("comparing systems")
    findings, compared = find(
        evaluation, resolution, records, canonical.unmapped, persons_by_system, config, as_of
    )
    stage("computing metrics")
    metrics, sync_lags = compute_metrics(
        compared,
        evaluation.expected,
        findings,
        observations,
        records,
        person_of_record,
        config,
        as_of,
        workers,
    )
    identity = identity_metrics(
        records,
        person_of_record,
        resolution.conflicts,
        resolution.ignored_values,
        list(config.systems),
    )
    metrics["overall"]["quarantined_rows"] = int(canonical.inputs["rows_quarantined"].sum())
    quarantined = canonical.inputs.groupby("system")["rows_quarantined"].sum()
    unmapped = findings.loc[findings["kind"] == "unmapped_value", "system"].value_counts()
    for system, entry in metrics["by_system"].items():
        entry["quarantined_rows"] = int(quarantined.get(system, 0))
        entry["unmapped_values"] = int(unmapped.get(system, 0))
    thresholds = check_thresholds(config.thresholds, metrics, {})
    return AuditResult(
        config=config,
        as_of=as_of,
        canonical=canonical,
        resolution=resolution,
        evaluation=evaluation,
        findings=findings,
        metrics=metrics,
        identity=identity,
        thresholds=thresholds,
        status=overall_status(thresholds),
        persons_by_system=persons_by_system,
        sync_lags=sync_lags,
    )


def _as_of(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
