"""The database servers the tests use, and the "skip unless required" rule.

PostgreSQL and MariaDB run on this machine (and in CI) at 127.0.0.1:5432
(trust auth, database ``test``) and 127.0.0.1:3306 (root, empty password,
database ``test``); ``PREFSYNC_TEST_POSTGRES_URL`` / ``PREFSYNC_TEST_MYSQL_URL``
point elsewhere. Where a server or a driver is missing the tests skip with
the reason, unless ``PREFSYNC_REQUIRE_DATABASES=1`` (set by ``.ci/run``) turns
the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest

POSTGRES_URL = os.environ.get(
    "PREFSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("PREFSYNC_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REQUIRED = os.environ.get("PREFSYNC_REQUIRE_DATABASES") == "1"

_reachable: dict[str, str | None] = {}


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when the databases are required (CI)."""
    if REQUIRED:
        pytest.fail(f"PREFSYNC_REQUIRE_DATABASES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def need_modules(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        unavailable(f"driver(s) not installed: {', '.join(missing)} (pip install -e '.[test]')")


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy spelling of a test server URL (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def engine(url: str) -> Any:
    """A SQLAlchemy engine on a reachable server, or skip (fail in CI) saying why."""
    need_modules("sqlalchemy", "psycopg" if url.startswith("postgres") else "pymysql")
    import sqlalchemy

    engine = sqlalchemy.create_engine(sqlalchemy_url(url), poolclass=sqlalchemy.pool.NullPool)
    if url not in _reachable:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            _reachable[url] = None
        except Exception as exc:  # any driver error means: not reachable here
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            _reachable[url] = f"no database server at {url.split('@')[-1]} ({first})"
    reason = _reachable[url]
    if reason:
        unavailable(reason)
    return engine


def unique_name(prefix: str = "prefsync_t") -> str:
    """A table (or schema) name no other test run uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def dropped_afterwards(engine: Any, *tables: str) -> Iterator[None]:
    """Drop ``tables`` when the block ends, whatever happens."""
    try:
        yield
    finally:
        with engine.begin() as conn:
            for table in tables:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
