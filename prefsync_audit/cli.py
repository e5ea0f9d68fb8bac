"""The command line: parse arguments, call the library, render, exit.

Errors a user can cause are :class:`AuditError`; they are caught in exactly
one place (:func:`main`) and printed as one line with exit code 2.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
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


def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        raise AuditError(f"--as-of: {value!r} is not an ISO 8601 time") from None
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="The audit config (audit.yaml).")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="The audit's 'now' (ISO 8601); default: the config's as_of, else now."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write summary.json, findings.parquet and findings.csv here."
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="What to print on stdout.")
    ] = OutputFormat.text,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when the status reaches this level.")
    ] = FailOn.fail,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat unmapped values as an error (exit 2).")
    ] = False,
) -> None:
    """Run the audit and print its summary.

    Example: prefsync-audit run sample_exports/retail/audit.yaml --output out/
    """
    from prefsync_audit.audit import run_audit
    from prefsync_audit.report import RENDERERS
    from prefsync_audit.report.files import write_outputs
    from prefsync_audit.report.text import renderables

    result = run_audit(config, as_of=_parse_as_of(as_of), strict=strict)
    if output is not None:
        write_outputs(result, output)
    if output_format == OutputFormat.text and sys.stdout.isatty():
        from rich.console import Console

        console = Console(no_color=bool(os.environ.get("NO_COLOR")))
        for item in renderables(result):
            console.print(item)
    else:
        sys.stdout.write(RENDERERS[output_format.value](result))
    status = result.status.value
    failing = {"fail": {"fail"}, "warn": {"warn", "fail"}, "never": set()}[fail_on.value]
    raise typer.Exit(EXIT_FAIL if status in failing else EXIT_PASS)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The audit config (audit.yaml).")],
) -> None:
    """Check the config, every mapping and every export's header without auditing.

    Reports every problem found, one per line. Example:
    prefsync-audit validate sample_exports/retail/audit.yaml
    """
    from prefsync_audit.validate import validate_config

    loaded, problems = validate_config(config)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"{config}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(EXIT_ERROR)
    systems = ", ".join(loaded.systems) if loaded else ""
    typer.echo(f"{config}: OK ({systems})")


def main() -> None:
    """Console entry point: one place where user errors become exit code 2."""
    try:
        # Without standalone mode click returns the exit code instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else EXIT_PASS)
    except AuditError as exc:
        typer.echo(f"error: {exc}", err=True)
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
