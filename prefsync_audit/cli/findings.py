"""``prefsync-audit findings``: filter and show the findings of a past run."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import app

#: Rows shown by --format text when no --limit is given.
TEXT_LIMIT = 50


class FindingsFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


@app.command()
def findings(
    run_dir: Annotated[
        Path, typer.Argument(metavar="DIR", help="The output folder of a run (run --output DIR).")
    ],
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", "-k", help="Only this finding kind (repeat for several)."),
    ] = None,
    system: Annotated[
        list[str] | None, typer.Option("--system", "-s", help="Only this system (repeatable).")
    ] = None,
    severity: Annotated[
        list[str] | None,
        typer.Option("--severity", help="critical, warning or info (repeatable)."),
    ] = None,
    purpose: Annotated[
        list[str] | None, typer.Option("--purpose", help="Only this purpose (repeatable).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            help=f"At most N findings (0: all). Default: all for json and csv, "
            f"{TEXT_LIMIT} for text.",
        ),
    ] = None,
    output_format: Annotated[
        FindingsFormat, typer.Option("--format", "-f", help="text, json or csv.")
    ] = FindingsFormat.text,
) -> None:
    """Filter the findings of a past run (its findings.parquet) and show them.

    Example: prefsync-audit findings out/ --kind suppression_gap --system ads --format csv
    """
    from prefsync_audit.investigate.findings_query import query_findings
    from prefsync_audit.investigate.render import (
        findings_renderables,
        print_renderables,
        to_json,
    )

    if limit is None and output_format == FindingsFormat.text:
        limit = TEXT_LIMIT
    answer = query_findings(run_dir, kind, system, severity, purpose, limit=limit or None)
    if output_format == FindingsFormat.json:
        sys.stdout.write(to_json(answer.to_dict()))
    elif output_format == FindingsFormat.csv:
        from prefsync_audit.report.files import formula_safe

        safe = formula_safe(answer.findings)
        sys.stdout.write(safe.to_csv(index=False, lineterminator="\n"))
    else:
        print_renderables(findings_renderables(answer))
