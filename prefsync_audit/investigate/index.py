"""The investigation index of a run folder: the canonical tables re-laid for lookups.

``run --save-canonical`` writes the canonical tables in pipeline order (records by
file and row, observations by record), in row groups of a million rows. Finding
one person there means decoding whole row groups of every table, and finding an
identifier means decoding every identifier column: seconds on a large run.

The index, under ``DIR/canonical/index/``, holds the same rows re-sorted so that
Parquet row-group statistics answer a lookup by reading a few small row groups:

* ``identifiers.parquet`` — ``(value, kind, person_id)`` sorted by value: every
  identifier a record holds, and the SHA-256 of plain emails and phones under
  the hash profiles (a hash input meets plain-text systems); ``kind`` is a
  position in ``meta.json``'s ``identifier_kinds``;
* ``records``, ``observations``, ``expected``, ``system_states``, ``anchors`` —
  sorted by ``person_id`` (observations gain a ``person_id`` column);
* ``meta.json`` — the index version, the profiles hashed, and the size and
  modification time of each canonical file it was built from: when any
  changes (a new run into the same folder), the index is rebuilt.

It is built once, the first time a ``--from-run`` command needs it (or by
calling :func:`build_index` right after writing the canonical tables). It holds
raw identifiers, like the tables it comes from: the folder is owner-only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefsync_audit.investigate.errors import RunFolderError
from prefsync_audit.investigate.identifiers import ALL_PROFILES, HASH_SUFFIX, kind_of_column
from prefsync_audit.normalize import apply_email_profile, apply_phone_profile, sha256_hex

INDEX_VERSION = 2
#: Rows per row group in the index: small, so a lookup decodes little.
ROW_GROUP = 32_768
CANONICAL = "canonical"
INDEX = "index"
SOURCES = (
    "records.parquet",
    "observations.parquet",
    "expected.parquet",
    "system_states.parquet",
    "anchors.parquet",
)
#: Columns of a record that are not identifiers.
RECORD_COLUMNS = ("record_key", "person_id", "system", "source_file", "source_row", "record_id")


def record_kinds(run_dir: Path) -> list[str]:
    """The identifier kinds of a run's records (from the Parquet schema only)."""
    schema = pq.read_schema(canonical_dir(run_dir) / "records.parquet")
    columns = [name for name in schema.names if name not in RECORD_COLUMNS]
    return list(dict.fromkeys(kind_of_column(name) for name in columns))


def canonical_dir(run_dir: Path) -> Path:
    """``DIR/canonical``, or a one-line error saying how to create it."""
    folder = Path(run_dir) / CANONICAL
    missing = [name for name in SOURCES if not (folder / name).is_file()]
    if not Path(run_dir).is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    if missing:
        raise RunFolderError(
            f"{run_dir}: no canonical tables ({folder / missing[0]} is missing); "
            "write them with: prefsync-audit run CONFIG --output DIR --save-canonical"
        )
    return folder


def _fingerprint(folder: Path) -> dict[str, list[int]]:
    stats = {name: (folder / name).stat() for name in SOURCES}
    return {name: [stat.st_size, stat.st_mtime_ns] for name, stat in stats.items()}


def read_meta(run_dir: Path) -> dict | None:
    """The index's ``meta.json`` if the index is current for the canonical tables."""
    folder = canonical_dir(run_dir)
    try:
        meta = json.loads((folder / INDEX / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("version") != INDEX_VERSION or meta.get("sources") != _fingerprint(folder):
        return None
    return meta


def ensure_index(run_dir: Path, profiles: dict[str, set[str]] | None = None) -> tuple[Path, dict]:
    """The index folder and its meta, building the index first when it is missing or stale."""
    meta = read_meta(run_dir)
    if meta is None:
        build_index(run_dir, profiles)
        meta = read_meta(run_dir)
        if meta is None:  # pragma: no cover - a concurrent rewrite of the run
            raise RunFolderError(f"{run_dir}: the canonical tables changed while indexing")
    return Path(run_dir) / CANONICAL / INDEX, meta


def build_index(run_dir: Path, profiles: dict[str, set[str]] | None = None) -> Path:
    """Build ``DIR/canonical/index/`` from the canonical tables; returns its path.

    ``profiles`` (plain kind → hash profiles) are those of the run's config when
    known; by default every profile, so a hash made by any platform is found.
    Written to a temporary folder and renamed into place, so a reader never
    sees half an index.
    """
    folder = canonical_dir(run_dir)
    sources = _fingerprint(folder)
    records = pq.read_table(folder / "records.parquet")
    kinds = list(
        dict.fromkeys(kind_of_column(c) for c in records.column_names if c not in RECORD_COLUMNS)
    )
    if profiles is None:
        profiles = {
            kind.removesuffix(HASH_SUFFIX): set(ALL_PROFILES)
            for kind in kinds
            if kind.endswith(HASH_SUFFIX) and kind.removesuffix(HASH_SUFFIX) in kinds
        }
    staging = Path(tempfile.mkdtemp(prefix=".index-", dir=folder))
    try:
        os.chmod(staging, 0o700)
        _write(staging / "identifiers.parquet", _identifiers(records, kinds, profiles))
        by_person = _sort(records, ["person_id", "record_key"])
        _write(staging / "records.parquet", by_person)
        person_of = _person_of_record(records)
        del records
        observations = pq.read_table(folder / "observations.parquet")
        keys = observations.column("record_key").to_numpy()
        observations = observations.append_column("person_id", pa.array(person_of[keys]))
        _write(staging / "observations.parquet", _sort(observations, ["person_id", "record_key"]))
        del observations
        for name in ("expected.parquet", "system_states.parquet", "anchors.parquet"):
            table = pq.read_table(folder / name)
            _write(staging / name, _sort(table, ["person_id"]))
        meta = {
            "version": INDEX_VERSION,
            "sources": sources,
            "kinds": kinds,
            "identifier_kinds": identifier_kinds(kinds),
            "profiles": {kind: sorted(p) for kind, p in sorted(profiles.items())},
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.chmod(staging / "meta.json", 0o600)
        target = folder / INDEX
        if read_meta(run_dir) is not None:  # pragma: no cover - another process was faster
            shutil.rmtree(staging, ignore_errors=True)
            return target
        if target.exists():
            shutil.rmtree(target)
        try:
            os.replace(staging, target)
        except OSError:  # pragma: no cover - another process installed its index first
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _write(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, row_group_size=ROW_GROUP)
    os.chmod(path, 0o600)


def _sort(table: pa.Table, keys: list[str]) -> pa.Table:
    columns = [table.column(key).to_numpy() for key in reversed(keys)]
    order = np.lexsort(columns) if len(table) else np.array([], dtype="int64")
    if len(order) and (np.diff(order) > 0).all():
        return table
    return table.take(pa.array(order))


def _person_of_record(records: pa.Table) -> np.ndarray:
    keys = records.column("record_key").to_numpy()
    persons = records.column("person_id").to_numpy()
    person_of = np.full(int(keys.max()) + 1 if len(keys) else 0, -1, dtype="int64")
    person_of[keys] = persons
    return person_of


def identifier_kinds(kinds: list[str]) -> list[str]:
    """The kinds of ``identifiers.parquet``, whose ``kind`` column is a position here:
    the record kinds, then the hashed kinds derived from them."""
    hashed = [k + HASH_SUFFIX for k in kinds if not k.endswith(HASH_SUFFIX)]
    return list(dict.fromkeys([*kinds, *hashed]))


def _identifiers(records: pa.Table, kinds: list[str], profiles: dict[str, set[str]]) -> pa.Table:
    """``(value, kind, person_id)`` of every identifier and derived hash, sorted by value.

    ``kind`` is a position in :func:`identifier_kinds`. Each column's values are
    made distinct per person first (a person's email is on many records), and
    derived hashes are computed from those distinct values, each text once.
    """
    codes = {kind: i for i, kind in enumerate(identifier_kinds(kinds))}
    persons = records.column("person_id")
    parts = []
    for name in records.column_names:
        kind = kind_of_column(name)
        if name in RECORD_COLUMNS or kind not in kinds:
            continue
        column = records.column(name)
        if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
            continue  # an all-empty column is stored as null type
        present = pc.is_valid(column)
        pairs = pa.table(
            {
                "value": pc.filter(column, present).cast(pa.string()),
                "person_id": pc.filter(persons, present),
            }
        )
        pairs = pairs.group_by(["value", "person_id"]).aggregate([]).combine_chunks()
        parts.append(_part(pairs, codes[kind]))
        if profiles.get(kind):
            parts.extend(_derived(pairs, kind, profiles[kind], codes[kind + HASH_SUFFIX]))
    if not parts:
        return pa.table(
            {
                "value": pa.array([], pa.string()),
                "kind": pa.array([], pa.int8()),
                "person_id": pa.array([], pa.int64()),
            }
        )
    table = pa.concat_tables(parts).combine_chunks()
    return table.take(pc.sort_indices(table, [("value", "ascending")]))


def _part(pairs: pa.Table, code: int) -> pa.Table:
    kind = pa.array(np.full(len(pairs), code, dtype=np.int8))
    return pa.table(
        {"value": pairs.column("value"), "kind": kind, "person_id": pairs.column("person_id")}
    )


def _derived(pairs: pa.Table, kind: str, profiles: set[str], code: int) -> list[pa.Table]:
    """The SHA-256 of each plain value under each profile: a profile adds rows only
    where it changes the text (Google's rule changes Gmail addresses only)."""
    apply = apply_email_profile if kind == "email" else apply_phone_profile
    values = pairs.column("value")
    uniques = pc.unique(values)
    positions = pc.index_in(values, value_set=uniques).to_numpy()
    plain = uniques.to_pylist()
    emitted: list[list[str]] = []
    parts = []
    # "plain" first: the other profiles then only add the texts they change.
    for profile in sorted(profiles, key=lambda p: (p != "plain", p)):
        applied = [apply(value, profile) for value in plain]  # type: ignore[arg-type]
        if emitted:
            earlier = list(zip(*emitted, strict=True))
            chosen = [i for i, text in enumerate(applied) if text not in earlier[i]]
        else:
            chosen = list(range(len(applied)))
        emitted.append(applied)
        if not chosen:
            continue
        digests = [sha256_hex(applied[i]) for i in chosen]
        digest_of = np.full(len(plain), -1, dtype=np.int64)
        digest_of[np.array(chosen, dtype=np.int64)] = np.arange(len(chosen))
        rows = digest_of[positions]
        keep = rows >= 0
        derived = pa.table(
            {
                "value": pa.array(digests, pa.string()).take(pa.array(rows[keep])),
                "person_id": pairs.column("person_id").filter(pa.array(keep)),
            }
        )
        parts.append(_part(derived, code))
    return parts
