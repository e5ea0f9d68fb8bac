"""investigate.index and RunFolderSource: the run folder answers like the audit in memory."""

from __future__ import annotations

import json
import os
import stat
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from prefsync_audit.investigate import RunFolderError, RunFolderSource
from prefsync_audit.investigate.index import ROW_GROUP, build_index, read_meta

PERSONS = [1, 14, 45, 114, 180, 301]


def test_index_is_built_owner_only_and_sorted(run_source, demo_run):
    index = run_source.index
    assert index == demo_run / "canonical" / "index"
    assert stat.S_IMODE(index.stat().st_mode) == 0o700
    for path in index.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    values = pq.read_table(index / "identifiers.parquet", columns=["value"]).column(0).to_pylist()
    assert values == sorted(values)
    persons = pq.read_table(index / "records.parquet", columns=["person_id"]).column(0)
    assert persons.to_pylist() == sorted(persons.to_pylist())
    meta = json.loads((index / "meta.json").read_text())
    # Built by `run --save-canonical` with the run's own profiles (the demo audience: Google).
    assert meta["profiles"]["email"] == ["google"]
    assert (
        pq.ParquetFile(index / "observations.parquet").metadata.row_group(0).num_rows <= ROW_GROUP
    )


@pytest.mark.parametrize("person", PERSONS)
def test_run_folder_returns_the_same_rows_as_the_result(run_source, demo_source, person):
    def same(left: pd.DataFrame, right: pd.DataFrame, key: list[str]) -> None:
        columns = sorted(set(left.columns) & set(right.columns))
        left = left[columns].sort_values(key, ignore_index=True)
        right = right[columns].sort_values(key, ignore_index=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False)

    same(run_source.records([person]), demo_source.records([person]), ["record_key"])
    same(
        run_source.observations(person),
        demo_source.observations(person),
        ["record_key", "purpose", "channel", "scope", "source_column"],
    )
    same(run_source.expected(person), demo_source.expected(person), ["purpose", "channel", "scope"])
    same(
        run_source.system_states(person),
        demo_source.system_states(person),
        ["purpose", "channel", "scope", "system"],
    )
    same(run_source.findings(person), demo_source.findings(person), ["finding_id"])
    assert run_source.anchor(person) == demo_source.anchor(person)


def test_index_is_rebuilt_when_the_run_changes(tmp_path, demo_run):
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(demo_run, folder)
    shutil.rmtree(folder / "canonical" / "index", ignore_errors=True)
    build_index(folder)
    assert read_meta(folder) is not None
    records = folder / "canonical" / "records.parquet"
    later = time.time() + 5
    os.utime(records, (later, later))
    assert read_meta(folder) is None  # stale
    source = RunFolderSource(folder)
    assert read_meta(folder) is None  # built on first use only
    assert source.index.is_dir()
    assert read_meta(folder) is not None


def test_missing_run_folder_and_tables(tmp_path, demo_run):
    with pytest.raises(RunFolderError, match="no such run folder"):
        RunFolderSource(tmp_path / "nope")
    (tmp_path / "summary.json").write_text(json.dumps({"systems": ["a"]}))
    (tmp_path / "findings.parquet").write_bytes((demo_run / "findings.parquet").read_bytes())
    with pytest.raises(RunFolderError, match="--save-canonical"):
        RunFolderSource(tmp_path)
    with pytest.raises(RunFolderError, match=r"summary\.json: not found"):
        RunFolderSource(demo_run / "canonical")
