"""SQLite and DuckDB files: no server needed, so these always run."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from prefsync_audit import run_audit
from prefsync_audit.audit import AuditResult
from prefsync_audit.config import DatabaseSource, load_config
from prefsync_audit.errors import InputError
from prefsync_audit.mapping import Mapping
from prefsync_audit.sources import check_database, read_database
from prefsync_audit.validate import validate_config
from tests.sources._mini import TYPES, assert_same_audit, database_config, rows_of
from tests.sources._servers import need_modules

SYSTEMS = ("cmp", "esp", "ads")
NAMES = {system: f"mini_{system}" for system in SYSTEMS}
MAPPING = Mapping.model_validate(
    {
        "identifiers": {"email": {"column": "email"}},
        "preferences": [
            {
                "purpose": "marketing",
                "channel": "email",
                "state": {"column": "s", "vocabulary": "boolean"},
            }
        ],
    }
)


def sqlite_file(path: Path) -> Path:
    """The mini exports as SQLite tables: timestamps as ISO text, booleans 0/1."""
    with sqlite3.connect(path) as db:
        for system, table in NAMES.items():
            header, rows = rows_of(system)
            columns = ", ".join(f'"{c}"' for c in ["row_id", *header])
            db.execute(f"CREATE TABLE {table} ({columns})")
            values = [
                [
                    i,
                    *(
                        v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime) else v
                        for v in row
                    ),
                ]
                for i, row in enumerate(rows, start=1)
            ]
            marks = ", ".join("?" * (len(header) + 1))
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    return path


def duckdb_file(path: Path) -> Path:
    """The mini exports as DuckDB tables with real types (TIMESTAMPTZ, BOOLEAN)."""
    need_modules("duckdb")
    import duckdb

    kinds = {"timestamp": "TIMESTAMPTZ", "boolean": "BOOLEAN", "text": "VARCHAR"}
    with duckdb.connect(str(path)) as db:
        db.execute("SET TimeZone = 'UTC'")
        for system, table in NAMES.items():
            header, rows = rows_of(system)
            columns = ", ".join(f'"{c}" {kinds[TYPES.get(c, "text")]}' for c in header)
            db.execute(f"CREATE TABLE {table} (row_id INTEGER PRIMARY KEY, {columns})")
            marks = ", ".join("?" * (len(header) + 1))
            db.executemany(
                f"INSERT INTO {table} VALUES ({marks})",
                [[i, *row] for i, row in enumerate(rows, start=1)],
            )
    return path


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_same_audit_as_from_files(mini_files: AuditResult, tmp_path: Path, kind: str):
    make = sqlite_file if kind == "sqlite" else duckdb_file
    make(tmp_path / f"mini.{kind}")
    config = database_config(tmp_path, f"{kind}:///mini.{kind}", NAMES)
    result = run_audit(config)
    # SQLite has no boolean type: the exported spelling is 1/0 there.
    assert_same_audit(mini_files, result, raw_values=kind != "sqlite")
    assert set(result.canonical.inputs["path"]) == {
        f"{kind}:///mini.{kind}#mini_cmp",
        f"{kind}:///mini.{kind}#mini_ads",
        f"{kind}:///mini.{kind}#query",
    }
    _, problems = validate_config(config)
    assert problems == []


def test_sqlite_through_sqlalchemy_reads_the_same(mini_files: AuditResult, tmp_path: Path):
    need_modules("sqlalchemy")
    sqlite_file(tmp_path / "mini.sqlite")
    config = database_config(tmp_path, "sqlite+pysqlite:///mini.sqlite", NAMES)
    assert_same_audit(mini_files, run_audit(config), raw_values=False)


@pytest.fixture
def odd_sqlite(tmp_path: Path) -> Path:
    """A SQLite table with a BLOB column, mixed-type values and duplicate names."""
    path = tmp_path / "odd.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (email TEXT, s, photo BLOB)")
        db.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            [("a@x.com", 1, b"\x89PNG"), ("b@x.com", "no", None), ("c@x.com", 0.0, None)],
        )
    return path


def test_mixed_values_blob_columns_and_duplicate_names(odd_sqlite: Path):
    spec = DatabaseSource(url="sqlite:///odd.sqlite", query="SELECT *, email FROM t", batch_rows=2)
    table = read_database("app", spec, MAPPING, odd_sqlite.parent)
    # The unmapped BLOB column is left out; a repeated name gets a suffix.
    assert list(table.frame.columns) == ["__row", "email", "s", "email#2"]
    assert table.frame["s"].tolist() == ["1", "no", "0"]  # REAL 0.0 as Arrow writes it
    assert table.rows_read == 3 and table.frame["__row"].tolist() == [1, 2, 3]


def test_a_mapped_blob_column_is_an_error(odd_sqlite: Path):
    spec = DatabaseSource(url="sqlite:///odd.sqlite", query="SELECT photo AS email, s FROM t")
    with pytest.raises(InputError, match=r"^systems\.app\.database: column 'email' .*binary"):
        read_database("app", spec, MAPPING, odd_sqlite.parent)
    problems = check_database("app", spec, MAPPING, odd_sqlite.parent)
    assert len(problems) == 1 and "column 'email'" in problems[0] and "binary" in problems[0]


def test_validate_names_missing_columns_and_failing_queries(odd_sqlite: Path):
    missing = DatabaseSource(url="sqlite:///odd.sqlite", query="SELECT email FROM t")
    assert check_database("app", missing, MAPPING, odd_sqlite.parent) == [
        "sqlite:///odd.sqlite#query: column 's' (mapping preferences[0].state, system app) "
        "is not in the query result"
    ]
    failing = DatabaseSource(url="sqlite:///odd.sqlite", table="no_such_table")
    [problem] = check_database("app", failing, MAPPING, odd_sqlite.parent)
    assert problem == (
        "systems.app.database: query failed on sqlite:///odd.sqlite: no such table: no_such_table"
    )


@pytest.mark.parametrize(
    ("url", "table", "message"),
    [
        ("sqlite:///nope.sqlite", "t", "cannot connect to sqlite:///nope.sqlite: no such file"),
        ("sqlite://", "t", "give a database file"),
        ("sqlite:///odd.sqlite", "t; DROP TABLE t", "is not a table name"),
        ("duckdb:///nope.duckdb", "t", "cannot connect to duckdb:///nope.duckdb: no such file"),
    ],
)
def test_one_line_errors(odd_sqlite: Path, url: str, table: str, message: str):
    with pytest.raises(InputError) as error:
        read_database("app", DatabaseSource(url=url, table=table), MAPPING, odd_sqlite.parent)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith("systems.app.database")


def test_files_are_opened_read_only(odd_sqlite: Path):
    spec = DatabaseSource(url="sqlite:///odd.sqlite", query="DELETE FROM t RETURNING email")
    with pytest.raises(InputError, match=r"readonly|read-only"):
        read_database("app", spec, MAPPING, odd_sqlite.parent)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///../elsewhere/mini.sqlite",
        "sqlite:////{root}/elsewhere/mini.sqlite",
        "sqlite+pysqlite:///../elsewhere/mini.sqlite",
    ],
)
def test_database_file_outside_the_config_folder_is_refused(
    mini_files: AuditResult, tmp_path: Path, url: str
):
    """A SQLite/DuckDB file is a file the config names: held to the config's folder
    like exports, unless the runner allows it."""
    if "pysqlite" in url:
        need_modules("sqlalchemy")
    (tmp_path / "elsewhere").mkdir()
    sqlite_file(tmp_path / "elsewhere" / "mini.sqlite")
    (tmp_path / "audit").mkdir()
    config = database_config(tmp_path / "audit", url.format(root=str(tmp_path).lstrip("/")), NAMES)
    with pytest.raises(InputError) as refused:
        run_audit(config)
    message = str(refused.value).replace(str(tmp_path), "TMP")
    assert message.startswith("systems.cmp.database.url: ")
    assert message.endswith(
        "reads TMP/elsewhere/mini.sqlite"
        + (" (an absolute path)" if "////" in url else " (through '..')")
        + ", outside the config's folder TMP/audit; run with --allow-outside-paths to allow it"
    )
    _, problems = validate_config(config)
    assert len(problems) == len(NAMES)
    allowed = run_audit(load_config(config, allow_outside_paths=True))
    assert_same_audit(mini_files, allowed, raw_values=False)
    _, problems = validate_config(config, allow_outside_paths=True)
    assert problems == []
