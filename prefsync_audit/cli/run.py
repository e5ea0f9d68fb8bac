"""``prefsync-audit run``: run the audit, print its summary, write outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import (
    EXIT_FAIL,
    EXIT_PASS,
    FailOn,
    OutputFormat,
    app,
    parse_as_of,
)
from prefsync_audit.errors import AuditError


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
    save_canonical: Annotated[
        bool,
        typer.Option(
            "--save-canonical",
            help="Also write the canonical tables and person map (Parquet, owner-only) "
            "under OUTPUT/canonical/ for trace and diff --from-run.",
        ),
    ] = False,
) -> None:
    """Run the audit and print its summary.

    Example: prefsync-audit run sample_exports/retail/audit.yaml --output out/
    """
    from prefsync_audit.audit import run_audit
    from prefsync_audit.report import RENDERERS
    from prefsync_audit.report.files import write_canonical, write_outputs
    from prefsync_audit.report.text import renderables

    if save_canonical and output is None:
        raise AuditError("--save-canonical needs --output DIR")
    result = run_audit(config, as_of=parse_as_of(as_of), strict=strict)
    if output is not None:
        write_outputs(result, output)
        if save_canonical:
            write_canonical(result, output)
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
