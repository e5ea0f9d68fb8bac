"""The ``tests/fixtures/mini`` exports as typed database tables, and the same audit on them.

Each CSV becomes a table with real column types (booleans, zoned timestamps),
plus a ``row_id`` primary key in file order. :func:`database_config` writes a
copy of the mini config whose systems read those tables (``cmp`` and ``ads``
by ``table``, ``esp`` by a ``query``), so the audit can be compared with the
one of the files.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from prefsync_audit.audit import AuditResult

MINI = Path(__file__).parent.parent / "fixtures" / "mini"

#: Column types of each export: text unless named here.
TYPES = {"Date": "timestamp", "changed": "timestamp", "optout": "boolean"}


def rows_of(system: str) -> tuple[list[str], list[list[Any]]]:
    """The columns and typed rows of ``exports/<system>.csv`` (empty = NULL)."""
    with (MINI / "exports" / f"{system}.csv").open(newline="") as handle:
        lines = list(csv.reader(handle))
    header, body = lines[0], lines[1:]
    typed = []
    for line in body:
        row: list[Any] = []
        for name, text in zip(header, line, strict=True):
            kind = TYPES.get(name, "text")
            if text == "":
                row.append(None)
            elif kind == "timestamp":
                row.append(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC))
            elif kind == "boolean":
                row.append(text == "true")
            else:
                row.append(text)
        typed.append(row)
    return header, typed


def create_tables(engine: Any, names: dict[str, str], naive_times: bool = False) -> None:
    """Create and fill one table per mini system through SQLAlchemy Core.

    ``names``: system → table name. ``naive_times`` stores UTC timestamps without
    zone (MySQL's DATETIME).
    """
    import sqlalchemy as sa

    metadata = sa.MetaData()
    kinds = {
        "text": sa.Text,
        "timestamp": lambda: sa.DateTime(timezone=not naive_times),
        "boolean": sa.Boolean,
    }
    with engine.begin() as conn:
        for system, table_name in names.items():
            header, rows = rows_of(system)
            table = sa.Table(
                table_name,
                metadata,
                sa.Column("row_id", sa.Integer, primary_key=True, autoincrement=False),
                *(sa.Column(name, kinds[TYPES.get(name, "text")]()) for name in header),
            )
            table.create(conn)
            values = [
                {"row_id": i, **dict(zip(header, _naive(row) if naive_times else row, strict=True))}
                for i, row in enumerate(rows, start=1)
            ]
            conn.execute(table.insert(), values)


def _naive(row: list[Any]) -> list[Any]:
    return [v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row]


def database_config(tmp_path: Path, url: str, names: dict[str, str], quote: str = '"') -> Path:
    """A copy of the mini config reading ``names`` (system → table) at ``url``."""
    config = yaml.safe_load((MINI / "audit.yaml").read_text())
    for system, table in names.items():
        settings = config["systems"][system]
        del settings["paths"]
        if system == "esp":
            columns = ", ".join(f"{quote}{c}{quote}" for c in rows_of("esp")[0])
            query = f"SELECT {columns} FROM {table} ORDER BY row_id"
            settings["database"] = {"url": url, "query": query, "batch_rows": 2}
        else:
            settings["database"] = {"url": url, "table": table}
    path = tmp_path / "db_audit.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def files_result() -> AuditResult:
    from prefsync_audit import run_audit

    return run_audit(MINI / "audit.yaml")


def assert_same_audit(files: AuditResult, database: AuditResult, raw_values: bool = True) -> None:
    """The two audits agree on everything but where the rows came from.

    ``raw_values=False`` leaves the exported spelling out (MySQL has no boolean
    type: ``1`` where the file says ``true``).
    """
    skip = {"source_file", "path", "sha256"} | (set() if raw_values else {"raw_value"})

    def frame(table: pd.DataFrame) -> pd.DataFrame:
        kept = table[[c for c in table.columns if c not in skip]]
        return kept.reset_index(drop=True).astype("object")

    pd.testing.assert_frame_equal(frame(files.findings), frame(database.findings))
    pd.testing.assert_frame_equal(
        frame(files.canonical.observations), frame(database.canonical.observations)
    )
    pd.testing.assert_frame_equal(frame(files.canonical.records), frame(database.canonical.records))
    pd.testing.assert_frame_equal(frame(files.canonical.inputs), frame(database.canonical.inputs))
    assert files.metrics == database.metrics
    assert files.identity == database.identity
    assert len(files.findings) == 7
