"""The command line: one module per command, all registered on one ``app``.

Each command module only parses its arguments, calls the library and renders;
user errors are caught once, in :func:`prefsync_audit.cli._app.main`.
"""

from __future__ import annotations

# Importing a command module registers its command on ``app``.
from prefsync_audit.cli import (  # noqa: F401
    decode,
    dictionary,
    diff,
    findings,
    generate,
    history,
    mappings,
    run,
    trace,
    validate,
)
from prefsync_audit.cli._app import app, main

__all__ = ["app", "main"]
