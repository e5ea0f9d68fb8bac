"""Sources beyond files: systems read straight from a database.

A system's ``database`` (see :class:`prefsync_audit.config.DatabaseSource`)
names a URL and a ``table`` or ``query``. :func:`read_database` runs it and
returns the same :class:`~prefsync_audit.load.RawTable` of text a file gives,
so the mapping applies unchanged; :func:`check_database` is what ``validate``
runs instead (the query runs, no row is fetched). Passwords come from
``${ENV}`` references and are masked wherever a URL is shown
(:func:`mask_url`), driver messages included. See ``docs/databases.md``.
"""

from __future__ import annotations

from prefsync_audit.sources._read import (
    DatabaseProvenance,
    check_database,
    describe_database,
    read_database,
)
from prefsync_audit.sources._url import DatabaseURL, mask_url, parse_url

__all__ = [
    "DatabaseProvenance",
    "DatabaseURL",
    "check_database",
    "describe_database",
    "mask_url",
    "parse_url",
    "read_database",
]
