"""PostgreSQL sources against the real server: the same audit as from files, and the errors.

Each test module creates its own uniquely named tables and drops them at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from prefsync_audit import run_audit
from prefsync_audit.audit import AuditResult
from prefsync_audit.config import DatabaseSource
from prefsync_audit.errors import InputError
from prefsync_audit.mapping import Mapping
from prefsync_audit.sources import check_database, read_database
from prefsync_audit.validate import validate_config
from tests.sources._mini import assert_same_audit, create_tables, database_config
from tests.sources._servers import (
    POSTGRES_URL,
    dropped_afterwards,
    engine,
    need_modules,
    unique_name,
)

SECRET = "Sup3r-secret/p@ss"
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
HOST = POSTGRES_URL.split("://", 1)[1]  # user@host:port/db


@pytest.fixture(scope="module")
def pg() -> Any:
    return engine(POSTGRES_URL)


@pytest.fixture(scope="module")
def tables(pg: Any) -> Iterator[dict[str, str]]:
    names = {system: unique_name(f"mini_{system}") for system in ("cmp", "esp", "ads")}
    with dropped_afterwards(pg, *names.values()):
        create_tables(pg, names)
        yield names


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"], ids=["adbc", "sqlalchemy"])
def test_same_audit_as_from_files(
    mini_files: AuditResult, tables: dict[str, str], tmp_path: Path, scheme: str
):
    if scheme == "postgresql":
        need_modules("adbc_driver_postgresql")
    config = database_config(tmp_path, f"{scheme}://{HOST}", tables)
    result = run_audit(config)
    assert_same_audit(mini_files, result)
    assert result.canonical.inputs.set_index("system").loc["esp", "path"] == (
        f"{scheme}://{HOST}#query"
    )
    _, problems = validate_config(config)
    assert problems == []


def test_cli_run_records_provenance_and_never_the_password(
    tables: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The trust-auth server ignores the password: it is there to be hidden.
    user, rest = HOST.split("@", 1)
    url = f"postgresql://{user}:${{PREFSYNC_TEST_PG_PASSWORD}}@{rest}"
    config = database_config(tmp_path, url, tables)
    out = tmp_path / "out"
    env = {"PREFSYNC_TEST_PG_PASSWORD": SECRET, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "prefsync_audit", "run", str(config), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_environ(), **env},
    )
    assert done.returncode == 0, done.stderr  # the mini audit warns; --fail-on fail
    summary = json.loads((out / "summary.json").read_text())
    masked = f"postgresql://{user}:***@{rest}"
    esp = next(d for d in summary["databases"] if d["system"] == "esp")
    assert esp["url"] == masked and esp["table"] is None
    assert esp["query"].startswith('SELECT "email", "phone", "optout", "changed" FROM ')
    assert esp["rows_read"] == 5 and len(esp["query_sha256"]) == 64
    cmp = next(d for d in summary["databases"] if d["system"] == "cmp")
    assert cmp["query"] == f"SELECT * FROM {tables['cmp']}"
    for path in [*out.iterdir()]:
        text = path.read_bytes()
        assert SECRET.encode() not in text and b"p%40ss" not in text, path
    assert SECRET not in done.stdout + done.stderr


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


@pytest.fixture(scope="module")
def odd_table(pg: Any) -> Iterator[str]:
    """A table with a bytea and an interval column beside usable ones."""
    name = unique_name("odd")
    with dropped_afterwards(pg, name):
        with pg.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TABLE {name} (email text, s boolean, photo bytea, waited interval)"
            )
            conn.exec_driver_sql(
                f"INSERT INTO {name} VALUES ('a@x.com', true, '\\x01', '1 hour'), "
                "('b@x.com', NULL, NULL, NULL)"
            )
        yield name


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"], ids=["adbc", "sqlalchemy"])
def test_binary_and_interval_columns(odd_table: str, scheme: str):
    url = f"{scheme}://{HOST}"
    table = read_database("app", DatabaseSource(url=url, table=odd_table), MAPPING, Path("."))
    assert list(table.frame.columns) == ["__row", "email", "s"]  # unmapped: left out
    assert table.frame["s"].tolist() == ["true", None]
    spec = DatabaseSource(url=url, query=f"SELECT photo AS email, s FROM {odd_table}")
    with pytest.raises(InputError, match=r"column 'email' .* has type binary"):
        read_database("app", spec, MAPPING, Path("."))
    [problem] = check_database("app", spec, MAPPING, Path("."))
    assert "column 'email'" in problem and "binary" in problem


@pytest.mark.parametrize(
    ("url", "query", "expected"),
    [
        (
            "postgresql://postgres:${PREFSYNC_TEST_PG_PASSWORD}@127.0.0.1:1/test",
            "SELECT 1",
            "systems.app.database: cannot connect to postgresql://postgres:***@127.0.0.1:1/test: ",
        ),
        (
            f"postgresql://nobody_{SECRET[:5]}:${{PREFSYNC_TEST_PG_PASSWORD}}@{HOST.split('@')[1]}",
            "SELECT 1",
            'role "nobody_Sup3r" does not exist',
        ),
        (
            f"postgresql+psycopg://nobody:${{PREFSYNC_TEST_PG_PASSWORD}}@{HOST.split('@')[1]}",
            "SELECT 1",
            'role "nobody" does not exist',
        ),
        (f"postgresql://{HOST}", "SELECT * FROM no_such_table", "query failed on"),
        (f"postgresql+psycopg://{HOST}", "SELECT nope FROM pg_class", "query failed on"),
        ("postgresql://x:${PREFSYNC_NO_SUCH_VARIABLE}@h/db", "SELECT 1", "variable PREFSYNC_NO"),
    ],
    ids=["unreachable", "refused-adbc", "refused-sqlalchemy", "bad-query", "bad-column", "no-env"],
)
def test_errors_are_one_line_name_the_system_and_hide_the_password(
    pg: Any, monkeypatch: pytest.MonkeyPatch, url: str, query: str, expected: str
):
    monkeypatch.setenv("PREFSYNC_TEST_PG_PASSWORD", SECRET)
    monkeypatch.delenv("PREFSYNC_NO_SUCH_VARIABLE", raising=False)
    spec = DatabaseSource(url=url, query=query)
    with pytest.raises(InputError) as error:
        read_database("app", spec, MAPPING, Path("."))
    message = str(error.value)
    assert expected in message and message.startswith("systems.app.database")
    assert "\n" not in message and SECRET not in message and "p%40ss" not in message
    assert check_database("app", spec, MAPPING, Path(".")) == [message]


def test_cli_error_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    need_modules("sqlalchemy")
    config = yaml.safe_load((Path(__file__).parent.parent / "fixtures/mini/audit.yaml").read_text())
    config["systems"]["esp"].pop("paths")
    config["systems"]["esp"]["database"] = {
        "url": "postgresql://postgres:${PREFSYNC_TEST_PG_PASSWORD}@127.0.0.1:1/test",
        "table": "esp",
    }
    shutil.copytree(Path(__file__).parent.parent / "fixtures/mini/exports", tmp_path / "exports")
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-m", "prefsync_audit", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_environ(), "PREFSYNC_TEST_PG_PASSWORD": SECRET},
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and SECRET not in done.stderr
    assert done.stderr.startswith("error: systems.esp.database: cannot connect to ")
