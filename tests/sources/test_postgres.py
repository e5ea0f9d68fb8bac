"""PostgreSQL sources against the real server: the same audit as from files, and the errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefsync_audit import run_audit
from tests.sources._mini import assert_same_audit, create_tables, database_config, files_result
from tests.sources._servers import POSTGRES_URL, dropped_afterwards, engine, unique_name


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
def test_same_audit_as_from_files(tables: dict[str, str], tmp_path: Path, scheme: str):
    url = scheme + "://" + POSTGRES_URL.split("://", 1)[1]
    config = database_config(tmp_path, url, tables)
    assert_same_audit(files_result(), run_audit(config))
