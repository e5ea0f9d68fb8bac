"""The command-line application object, shared option types and the entry point.

Errors a user can cause are :class:`AuditError`; they are caught in exactly
one place (:func:`main`) and printed as one line with exit code 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from prefsync_audit import __version__
from prefsync_audit.errors import AuditError

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class FailOn(StrEnum):
    warn = "warn"
    fail = "fail"
    never = "never"


app = typer.Typer(
    name="prefsync-audit",
    help="Audit whether every system honours every privacy preference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prefsync-audit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Audit whether every system honours every privacy preference."""


def parse_as_of(value: str | None) -> datetime | None:
    """``--as-of``: an ISO 8601 time (UTC when no offset is given). Words such as
    ``now`` are refused: an audit's time must be reproducible."""
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        raise AuditError(f"--as-of: {value!r} is not an ISO 8601 time") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def main() -> None:
    """Console entry point: one place where user errors become exit code 2."""
    try:
        # Without standalone mode click returns the exit code instead of exiting.
        code = app(standalone_mode=False)
        if code == EXIT_INTERRUPTED:
            # Recent typers turn Ctrl-C into this exit code, silently; older ones
            # raise (below). No command returns it otherwise.
            typer.echo("interrupted", err=True)
        sys.exit(code if isinstance(code, int) else EXIT_PASS)
    except AuditError as exc:
        # Always one line: a file name or key holding a line break must not split it.
        message = " ".join(str(exc).splitlines())
        typer.echo(f"error: {message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Usage errors come from the click that typer bundles; match them by class
        # name so we do not depend on where typer keeps it.
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "Abort" in names:
            typer.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if "ClickException" in names:
            exc.show()  # type: ignore[attr-defined]
            sys.exit(EXIT_ERROR)
        raise


@contextmanager
def stage_progress() -> Iterator[Callable[[str], None]]:
    """A stage reporter: a rich status line on stderr when stderr is a terminal,
    silent otherwise (CI logs and pipes stay clean)."""
    if not sys.stderr.isatty():
        yield lambda name: None
        return
    from rich.console import Console

    console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))
    with console.status("starting") as status:
        yield lambda name: status.update(f"{name}…")
