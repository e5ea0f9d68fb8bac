"""One reader per kind of database, all giving Arrow batches.

=========================  ==============================================================
URL                        reader
=========================  ==============================================================
``postgresql://``          ADBC PostgreSQL driver (``adbc-driver-postgresql``): the result
                           arrives as Arrow over ``COPY … BINARY``; without the driver,
                           SQLAlchemy with psycopg
``postgresql+DRIVER://``   SQLAlchemy with that driver
``sqlite:///file.db``      the standard library's ``sqlite3`` (see :class:`SQLiteReader`)
``duckdb:///file.duckdb``  DuckDB's own Arrow reader
``mysql://``, anything     SQLAlchemy: a server-side cursor (``stream_results``) read with
else                       ``fetchmany(batch_rows)``; ``mysql://`` and ``mariadb://`` use
                           PyMySQL when no driver is named
=========================  ==============================================================

A reader is opened (connected) by :func:`open_reader`; a failure to connect
is an :class:`InputError` whose text went through :meth:`DatabaseURL.scrub`.
Readers raise their driver's own errors from :meth:`Reader.batches` and
:meth:`Reader.probe`; the caller turns those (listed in ``Reader.errors``)
into one-line errors.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from prefsync_audit._paths import outside_file, resolved
from prefsync_audit.errors import InputError
from prefsync_audit.sources._arrow import batch_from_rows, unusable_reason
from prefsync_audit.sources._url import DatabaseURL

#: SQL dialects that quote identifiers with backticks.
BACKTICK_DIALECTS = frozenset({"mysql", "mariadb", "bigquery", "databricks", "hive", "spark"})

#: MySQL protocol column types that hold text or bytes (VARCHAR, BLOBs, VAR_STRING, STRING).
_MYSQL_STRING_TYPES = frozenset({15, 249, 250, 251, 252, 253, 254})

#: Which optional extra brings what a URL needs.
EXTRAS = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "duckdb": "duckdb",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
}


@dataclass(frozen=True)
class ProbedColumn:
    """A result column as seen without reading any row."""

    name: str
    problem: str | None = None
    """Why its values cannot be read as text (its type), or None."""


class Reader(Protocol):
    """An open connection that can run a query and hand back its rows as Arrow."""

    kind: str
    """What reads, for messages: ``ADBC PostgreSQL``, ``SQLAlchemy (mysql+pymysql)``…"""
    errors: tuple[type[BaseException], ...]
    """The driver's error types: turned into one-line errors by the caller."""

    def batches(self, query: str, batch_rows: int) -> Iterator[pa.Table]:
        """The query's rows, batch by batch, columns in the result's order."""
        ...

    def probe(self, query: str) -> list[ProbedColumn]:
        """The query's columns and whether each is readable, fetching no row."""
        ...

    def close(self) -> None: ...


def quote_identifier(dialect: str, name: str) -> str:
    """``name`` quoted for ``dialect``: backticks for MySQL and friends, else ``"…"``."""
    if dialect in BACKTICK_DIALECTS:
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def probe_query(query: str) -> str:
    """``query`` wrapped so that it runs and returns its columns but no row."""
    return f"SELECT * FROM ({strip_query(query)}) AS prefsync_probe WHERE 1 = 0"


def strip_query(query: str) -> str:
    """The query without surrounding space and trailing semicolons."""
    return query.strip().rstrip(";").strip()


def open_reader(
    url: DatabaseURL, base_dir: Path, where: str, allow_outside_paths: bool = False
) -> Reader:
    """Connect to the database ``url`` names (files relative to ``base_dir``, and
    inside it unless ``allow_outside_paths``)."""
    dialect, driver = url.dialect, url.driver
    if dialect in ("postgresql", "postgres") and driver is None and _has("adbc_driver_postgresql"):
        return AdbcPostgresReader(url, where)
    if dialect == "sqlite" and driver is None:
        return SQLiteReader(_file_path(url, base_dir, where, allow_outside_paths), url, where)
    if dialect == "duckdb" and driver is None:
        return DuckDBReader(_file_path(url, base_dir, where, allow_outside_paths), url, where)
    return SQLAlchemyReader(url, base_dir, where, allow_outside_paths)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _install_hint(dialect: str) -> str:
    extra = EXTRAS.get(dialect)
    return f" (pip install 'prefsync-audit[{extra}]')" if extra else ""


def _connect_error(url: DatabaseURL, where: str, exc: BaseException) -> InputError:
    return InputError(f"{where}: cannot connect to {url.masked}: {url.scrub(exc)}")


def _file_path(
    url: DatabaseURL, base_dir: Path, where: str, allow_outside_paths: bool = False
) -> Path:
    """``sqlite:///relative.db`` (relative to the config) or ``sqlite:////absolute.db``."""
    rest = url.rest.split("?", 1)[0]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        raise InputError(
            f"{where}.url: give a database file: {url.scheme}:///relative/path "
            f"(to the config's folder) or {url.scheme}:////absolute/path"
        )
    path = _inside(Path(rest[1:]), base_dir, where, allow_outside_paths)
    if not path.is_file():
        raise InputError(f"{where}: cannot connect to {url.masked}: no such file: {path}")
    return path


def _inside(path: Path, base_dir: Path, where: str, allow_outside_paths: bool) -> Path:
    """A database file's path from the config's folder; one outside that folder is
    refused unless allowed, as export paths are (``_paths``)."""
    full = path if path.is_absolute() else base_dir / path
    if not allow_outside_paths:
        outside = outside_file(str(path), full, (resolved(base_dir),))
        if outside:
            raise InputError(f"{where}.url: {outside}")
    return full


class AdbcPostgresReader:
    """PostgreSQL through ADBC: the server's binary COPY output decoded straight to Arrow."""

    kind = "ADBC PostgreSQL"

    def __init__(self, url: DatabaseURL, where: str) -> None:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi as adbc_pg

        self.errors: tuple[type[BaseException], ...] = (adbc_driver_manager.Error,)
        uri = "postgresql://" + url.rest
        try:
            self._conn = adbc_pg.connect(uri, autocommit=True)
        except self.errors as exc:
            raise _connect_error(url, where, exc) from None

    def batches(self, query: str, batch_rows: int) -> Iterator[pa.Table]:
        with self._conn.cursor() as cursor:
            cursor.execute(strip_query(query))
            reader = cursor.fetch_record_batch()
            for batch in reader:
                yield pa.Table.from_batches([batch])

    def probe(self, query: str) -> list[ProbedColumn]:
        with self._conn.cursor() as cursor:
            schema = cursor.adbc_execute_schema(strip_query(query))
        return [ProbedColumn(f.name, unusable_reason(f.type)) for f in schema]

    def close(self) -> None:
        with suppress(Exception):
            self._conn.close()


class SQLiteReader:
    """A SQLite file through the standard library, opened read-only.

    Not ADBC: SQLite lets one column hold integers, text and reals side by
    side, and the ADBC SQLite driver fixes each column's type from the first
    batch (then fails on a later value of another type) or writes reals in
    exponent form. Here each batch's columns are typed from their own values,
    and a column whose values do not share a type is read as text. The
    standard library is always there, so the demo's SQLite system needs no
    extra package.
    """

    kind = "SQLite"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, path: Path, url: DatabaseURL, where: str) -> None:
        try:
            self._conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            self._conn.execute("PRAGMA schema_version").fetchone()
        except sqlite3.Error as exc:
            raise _connect_error(url, where, exc) from None

    def batches(self, query: str, batch_rows: int) -> Iterator[pa.Table]:
        cursor = self._conn.execute(strip_query(query))
        names = [d[0] for d in cursor.description or ()]
        try:
            first = True
            while rows := cursor.fetchmany(batch_rows):
                first = False
                yield batch_from_rows(names, rows)
            if first:
                yield batch_from_rows(names, [])
        finally:
            cursor.close()

    def probe(self, query: str) -> list[ProbedColumn]:
        cursor = self._conn.execute(probe_query(query))
        names = [d[0] for d in cursor.description or ()]
        cursor.close()
        if not names:
            return []
        # SQLite columns have no fixed type: ask whether any value is a BLOB
        # (one aggregate row comes back, no data row).
        checks = ", ".join(
            f"max(typeof(q.{quote_identifier('sqlite', n)}) = 'blob')" for n in names
        )
        row = self._conn.execute(f"SELECT {checks} FROM ({strip_query(query)}) AS q").fetchone()
        return [
            ProbedColumn(name, "binary (BLOB values)" if flag else None)
            for name, flag in zip(names, row or [None] * len(names), strict=True)
        ]

    def close(self) -> None:
        self._conn.close()


class DuckDBReader:
    """A DuckDB file, opened read-only, read with DuckDB's own Arrow record-batch reader."""

    kind = "DuckDB"

    def __init__(self, path: Path, url: DatabaseURL, where: str) -> None:
        try:
            import duckdb
        except ImportError:
            raise InputError(
                f"{where}: reading {url.masked} needs the duckdb package{_install_hint('duckdb')}"
            ) from None
        self.errors: tuple[type[BaseException], ...] = (duckdb.Error,)
        try:
            self._conn = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise _connect_error(url, where, exc) from None

    def batches(self, query: str, batch_rows: int) -> Iterator[pa.Table]:
        relation = self._conn.sql(strip_query(query))
        # DuckDB 1.4 renamed fetch_arrow_reader to to_arrow_reader.
        to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
        reader = to_reader(batch_rows)
        schema = reader.schema
        empty = True
        for batch in reader:
            empty = False
            yield pa.Table.from_batches([batch])
        if empty:
            yield schema.empty_table()

    def probe(self, query: str) -> list[ProbedColumn]:
        relation = self._conn.sql(strip_query(query)).limit(0)
        to_table = getattr(relation, "to_arrow_table", None) or relation.arrow
        schema = to_table().schema
        return [ProbedColumn(f.name, unusable_reason(f.type)) for f in schema]

    def close(self) -> None:
        self._conn.close()


class SQLAlchemyReader:
    """Any database with a SQLAlchemy dialect: a server-side cursor read ``batch_rows`` at a time.

    Each ``fetchmany`` batch is turned into Arrow arrays column by column
    (:func:`batch_from_rows`); no row becomes a Python object of ours.
    """

    def __init__(
        self, url: DatabaseURL, base_dir: Path, where: str, allow_outside_paths: bool = False
    ) -> None:
        try:
            import sqlalchemy
            from sqlalchemy import exc as sa_exc
            from sqlalchemy.pool import NullPool
        except ImportError:
            raise InputError(
                f"{where}: reading {url.masked} needs SQLAlchemy{_install_hint(url.dialect)}"
            ) from None
        self.errors: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError,)
        try:
            sa_url = sqlalchemy.make_url(url.url)
        except (sa_exc.ArgumentError, ValueError) as exc:
            raise InputError(f"{where}.url: not a valid URL: {url.scrub(exc)}") from None
        sa_url = _default_driver(sa_url)
        if sa_url.get_backend_name() == "sqlite" and sa_url.database:
            path = _inside(Path(sa_url.database), base_dir, where, allow_outside_paths)
            sa_url = sa_url.set(database=str(path))
        self.kind = f"SQLAlchemy ({sa_url.drivername})"
        try:
            self._engine = sqlalchemy.create_engine(sa_url, poolclass=NullPool)
        except (ImportError, sa_exc.NoSuchModuleError) as exc:
            raise InputError(
                f"{where}: no driver for {url.masked}: {url.scrub(exc)}{_install_hint(url.dialect)}"
            ) from None
        except sa_exc.ArgumentError as exc:
            raise InputError(f"{where}.url: {url.scrub(exc)}") from None
        self.dialect = self._engine.dialect.name
        try:
            self._conn = self._engine.connect()
        except sa_exc.DBAPIError as exc:
            raise _connect_error(url, where, exc.orig or exc) from None
        except sa_exc.SQLAlchemyError as exc:
            raise _connect_error(url, where, exc) from None

    def batches(self, query: str, batch_rows: int) -> Iterator[pa.Table]:
        connection = self._conn.execution_options(
            stream_results=True, max_row_buffer=batch_rows, no_parameters=True
        )
        result = connection.exec_driver_sql(strip_query(query))
        try:
            names = list(result.keys())
            empty = True
            while rows := result.fetchmany(batch_rows):
                empty = False
                yield batch_from_rows(names, rows)
            if empty:
                yield batch_from_rows(names, [])
        finally:
            result.close()

    def probe(self, query: str) -> list[ProbedColumn]:
        connection = self._conn.execution_options(no_parameters=True)
        result = connection.exec_driver_sql(probe_query(query))
        try:
            cursor = result.cursor
            description = cursor.description if cursor is not None else None
            dbapi = self._engine.dialect.dbapi
            binary = getattr(dbapi, "BINARY", None)
            columns = []
            for i, column in enumerate(description or ()):
                name, type_code = column[0], column[1]
                columns.append(ProbedColumn(name, self._binary(cursor, i, type_code, binary)))
            return columns
        finally:
            result.close()

    def _binary(self, cursor: Any, index: int, type_code: Any, binary: Any) -> str | None:
        """Why column ``index`` cannot be text (it holds bytes), from the DB-API type code."""
        if self.dialect in ("mysql", "mariadb"):
            # MySQL reports TEXT as a BLOB type and BINARY as a string type: only
            # the binary character set (63) on a string or BLOB type makes bytes.
            fields = getattr(getattr(cursor, "_result", None), "fields", None)
            if fields is None or index >= len(fields) or type_code not in _MYSQL_STRING_TYPES:
                return None
            return "binary" if getattr(fields[index], "charsetnr", None) == 63 else None
        if binary is None or type_code is None or type_code != binary:
            return None
        return "binary"

    def close(self) -> None:
        with suppress(Exception):
            self._conn.close()
        self._engine.dispose()


def _default_driver(url: Any) -> Any:
    """``mysql://`` and ``mariadb://`` use PyMySQL when it is installed; ``postgresql://``
    (read here only without the ADBC driver) uses psycopg 3 when it is installed."""
    if "+" in url.drivername:
        return url
    if url.drivername in ("mysql", "mariadb") and _has("pymysql"):
        return url.set(drivername=f"{url.drivername}+pymysql")
    if url.drivername in ("postgresql", "postgres") and _has("psycopg"):
        return url.set(drivername="postgresql+psycopg")
    return url
