"""The command line: one module per command, all registered on one ``app``.

Each command module only parses its arguments, calls the library and renders;
user errors are caught once, in :func:`prefsync_audit.cli._app.main`.
"""

from __future__ import annotations

from prefsync_audit.memory import share_one_heap

# Before anything the commands import can start a thread: importing pyarrow
# starts jemalloc's background thread, whose first allocation would give it an
# arena of its own, and glibc then hands new threads that arena or the main
# one in turn (the audit's workers included), whatever ``M_ARENA_MAX`` says
# later (prefsync_audit.memory).
share_one_heap()

# Importing a command module registers its command on ``app``.
from prefsync_audit.cli import (  # noqa: F401, E402
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
from prefsync_audit.cli._app import app, main  # noqa: E402

__all__ = ["app", "main"]
