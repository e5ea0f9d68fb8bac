"""MySQL/MariaDB sources against the real server (SQLAlchemy + PyMySQL, server-side cursor)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefsync_audit import run_audit
from prefsync_audit.audit import AuditResult
from prefsync_audit.config import DatabaseSource
from prefsync_audit.errors import InputError
from prefsync_audit.mapping import Mapping
from prefsync_audit.sources import check_database, read_database
from prefsync_audit.validate import validate_config
from tests.sources._mini import assert_same_audit, create_tables, database_config
from tests.sources._servers import MYSQL_URL, dropped_afterwards, engine, unique_name

SECRET = "My-s3cret:pass"
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
HOST = MYSQL_URL.split("@", 1)[1]  # host:port/db


@pytest.fixture(scope="module")
def mysql() -> Any:
    return engine(MYSQL_URL)


@pytest.fixture(scope="module")
def tables(mysql: Any) -> Iterator[dict[str, str]]:
    names = {system: unique_name(f"mini_{system}") for system in ("cmp", "esp", "ads")}
    with dropped_afterwards(mysql, *names.values()):
        create_tables(mysql, names, naive_times=True)
        yield names


@pytest.mark.parametrize("scheme", ["mysql", "mariadb+pymysql"])
def test_same_audit_as_from_files(
    mini_files: AuditResult, tables: dict[str, str], tmp_path: Path, scheme: str
):
    user = MYSQL_URL.split("://", 1)[1].split("@", 1)[0]
    config = database_config(tmp_path, f"{scheme}://{user}@{HOST}", tables, quote="`")
    # No boolean type: TINYINT 1/0 where the file says true/false. DATETIME has no
    # zone: the mapping's timezone (UTC) applies, as to a file's naive times.
    assert_same_audit(mini_files, run_audit(config), raw_values=False)
    _, problems = validate_config(config)
    assert problems == []


@pytest.fixture(scope="module")
def odd_table(mysql: Any) -> Iterator[str]:
    name = unique_name("odd")
    with dropped_afterwards(mysql, name):
        with mysql.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TABLE {name} (email TEXT, s BOOLEAN, photo BLOB, code VARBINARY(8), "
                "note VARCHAR(20))"
            )
            conn.exec_driver_sql(
                f"INSERT INTO {name} VALUES ('a@x.com', 1, x'01', x'02', '100%% sure'), "
                "('b@x.com', NULL, NULL, NULL, NULL)"
            )
        yield name


def test_text_is_text_and_bytes_are_reported(odd_table: str):
    url = MYSQL_URL
    # TEXT is a BLOB type on the wire: only the binary character set means bytes.
    spec = DatabaseSource(url=url, query=f"SELECT * FROM {odd_table} WHERE note LIKE '100%'")
    table = read_database("app", spec, MAPPING, Path("."))
    assert list(table.frame.columns) == ["__row", "email", "s", "note"]
    assert table.frame.iloc[0].tolist() == [1, "a@x.com", "1", "100% sure"]
    assert check_database("app", spec, MAPPING, Path(".")) == []
    for column in ("photo", "code"):
        spec = DatabaseSource(url=url, query=f"SELECT {column} AS email, s FROM {odd_table}")
        with pytest.raises(InputError, match=r"column 'email' .* has type binary"):
            read_database("app", spec, MAPPING, Path("."))
        [problem] = check_database("app", spec, MAPPING, Path("."))
        assert "binary" in problem


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://root:${{PREFSYNC_TEST_MY_PASSWORD}}@{HOST}", "Access denied for user 'root'"),
        ("mysql://root:${PREFSYNC_TEST_MY_PASSWORD}@127.0.0.1:1/test", "Can't connect"),
    ],
    ids=["refused", "unreachable"],
)
def test_connection_errors_hide_the_password(
    mysql: Any, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
):
    monkeypatch.setenv("PREFSYNC_TEST_MY_PASSWORD", SECRET)
    spec = DatabaseSource(url=url, query="SELECT 1")
    with pytest.raises(InputError) as error:
        read_database("app", spec, MAPPING, Path("."))
    message = str(error.value)
    assert message.startswith("systems.app.database: cannot connect to mysql://root:***@")
    assert expected in message and SECRET not in message and "\n" not in message


def test_a_failing_query(mysql: Any):
    spec = DatabaseSource(url=MYSQL_URL, query="SELECT * FROM no_such_table_here")
    with pytest.raises(InputError, match=r"query failed on .*no_such_table_here' doesn't exist"):
        read_database("app", spec, MAPPING, Path("."))
