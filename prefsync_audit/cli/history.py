"""``prefsync-audit history``: list the runs kept by ``run --history``."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from prefsync_audit.cli._app import app, parse_as_of


@app.command()
def history(
    path: Annotated[str, typer.Argument(help="The history database (run --history PATH).")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only runs whose as-of time is at or after this (ISO 8601)."),
    ] = None,
    audit: Annotated[
        str | None,
        typer.Option("--audit", help="Only runs of this audit (its config name)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the latest N runs.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the runs as a JSON array.")
    ] = False,
) -> None:
    """List recorded runs, oldest first: status, findings, new/persisting/resolved.

    Example: prefsync-audit history audits.db --since 2026-02-01 --json
    """
    from prefsync_audit.history import open_history
    from prefsync_audit.report.summary import iso

    start = parse_as_of(since)
    store = open_history(path, create=False)
    try:
        runs = store.runs(audit=audit, since=iso(start) if start else None, limit=limit)
    finally:
        store.close()
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in runs], indent=2) + "\n")
        return
    _print_table(runs)


def _print_table(runs: list) -> None:
    from rich.console import Console
    from rich.table import Table

    from prefsync_audit.report import _format as fmt

    table = Table(title=f"{len(runs)} run(s)", title_justify="left")
    columns = ("run", "recorded", "as of", "audit", "status", "findings", "new", "persist.")
    for name in (*columns, "resolved", "gaps", "mismatch", "coverage"):
        table.add_column(name, justify="right" if name not in ("audit", "status") else "left")
    for r in runs:
        table.add_row(
            str(r.run_id),
            r.recorded_at,
            r.as_of,
            r.audit,
            r.status,
            str(r.findings_total),
            fmt.count(r.new),
            fmt.count(r.persisting),
            fmt.count(r.resolved),
            fmt.metric_value("suppression_gaps", r.headline.get("suppression_gaps")),
            fmt.rate(r.headline.get("mismatch_rate")),
            fmt.rate(r.headline.get("coverage")),
        )
    console = Console(
        no_color=bool(os.environ.get("NO_COLOR")),
        width=None if sys.stdout.isatty() else 140,
    )
    console.print(table)
