"""``prefsync-audit run``: run the audit, print its summary, write outputs."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prefsync_audit.cli._app import (
    EXIT_FAIL,
    EXIT_PASS,
    FailOn,
    app,
    parse_as_of,
    stage_progress,
)
from prefsync_audit.cli._options import AllowOutsidePaths
from prefsync_audit.errors import AuditError
from prefsync_audit.memory import set_up_memory

if TYPE_CHECKING:
    from prefsync_audit.audit import AuditResult
    from prefsync_audit.history import HistoryView
    from prefsync_audit.report.model import ReportOptions


class StdoutFormat(StrEnum):
    """What ``--format`` prints (the keys of ``report.RENDERERS``)."""

    text = "text"
    json = "json"
    markdown = "markdown"
    junit = "junit"


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
            "--output",
            "-o",
            help="Write summary.json, findings.parquet, findings.csv, report.md, report.html "
            "and junit.xml here.",
        ),
    ] = None,
    output_format: Annotated[
        StdoutFormat, typer.Option("--format", "-f", help="What to print on stdout.")
    ] = StdoutFormat.text,
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
    reveal_identifiers: Annotated[
        bool,
        typer.Option(
            "--reveal-identifiers",
            help="Show identifiers in full in the Markdown and HTML reports (files written "
            "owner-only). The GitHub step summary stays masked.",
        ),
    ] = False,
    remediation: Annotated[
        Path | None,
        typer.Option(
            "--remediation",
            help="Write one import file per system with suppression gaps, keyed the way "
            "that system keys (owner-only files).",
        ),
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            help="Record the run in this history (a SQLite file, or a postgresql:// URL "
            "shared by several runners) and report findings new, persisting and resolved "
            "since the previous run.",
        ),
    ] = None,
    keep_freed_memory: Annotated[
        bool | None,
        typer.Option(
            "--keep-freed-memory/--return-freed-memory",
            help="Keep memory the audit frees for its own reuse, or return it to the "
            "system (glibc). Kept is faster on virtual machines that hand free memory to "
            "their host, at a higher peak. Default: kept where the memory available is at "
            "least 4.5 times the exports' size plus 1 GiB (docs/cli.md).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Threads that load, map, resolve, evaluate and compute metrics (default: the "
            "CPUs available, at most 4). The result is the same for any number; fewer hold less "
            "in memory.",
        ),
    ] = None,
    allow_outside_paths: AllowOutsidePaths = False,
) -> None:
    """Run the audit and print its summary.

    Example: prefsync-audit run sample_exports/retail/audit.yaml --output out/
    --history audits.db --remediation fixes/
    """
    from prefsync_audit.audit import exports_size, run_audit
    from prefsync_audit.config import load_config
    from prefsync_audit.report import RENDERERS
    from prefsync_audit.report.model import ReportOptions

    if save_canonical and output is None:
        raise AuditError("--save-canonical needs --output DIR")
    loaded = load_config(config, allow_outside_paths=allow_outside_paths)
    kept = set_up_memory(keep_freed_memory, exports_size(loaded))
    if keep_freed_memory and not kept:
        print(
            "prefsync-audit: --keep-freed-memory has no effect here (the C library is not glibc)",
            file=sys.stderr,
        )
    with stage_progress() as on_stage:
        result = run_audit(
            loaded, as_of=parse_as_of(as_of), strict=strict, on_stage=on_stage, workers=workers
        )
    options = ReportOptions(
        reveal_identifiers=reveal_identifiers,
        fail_on=fail_on.value,
        history=_record_history(history, result) if history else None,
    )
    _write_files(result, options, output, save_canonical, remediation)
    _append_step_summary(result, options)
    if output_format == StdoutFormat.text and sys.stdout.isatty():
        _print_terminal(result, options)
    else:
        sys.stdout.write(RENDERERS[output_format.value](result, options))
    status = result.status.value
    failing = {"fail": {"fail"}, "warn": {"warn", "fail"}, "never": set()}[fail_on.value]
    raise typer.Exit(EXIT_FAIL if status in failing else EXIT_PASS)


def _record_history(location: str, result: AuditResult) -> HistoryView:
    from prefsync_audit.config import utc_now
    from prefsync_audit.history import open_history, record_run

    store = open_history(location)
    try:
        return record_run(store, result, recorded_at=utc_now())
    finally:
        store.close()


def _write_files(
    result: AuditResult,
    options: ReportOptions,
    output: Path | None,
    save_canonical: bool,
    remediation: Path | None,
) -> None:
    from prefsync_audit.report.files import write_canonical, write_outputs

    if output is not None:
        write_outputs(result, output, options)
        if save_canonical:
            write_canonical(result, output)
    if remediation is not None:
        from prefsync_audit.remediation import write_remediation

        write_remediation(result, remediation)


def _append_step_summary(result: AuditResult, options: ReportOptions) -> None:
    """In GitHub Actions, add the Markdown summary to the job's page.

    Always masked, whatever ``--reveal-identifiers`` says: everyone who can read
    the workflow run can read its summary. GitHub refuses a step summary over
    1 MiB, so what is appended fits in what is left of that budget.
    """
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from prefsync_audit.report.markdown import (
        STEP_SUMMARY_LIMIT,
        render_markdown,
        truncate_markdown,
    )

    path = Path(target)
    used = path.stat().st_size if path.exists() else 0
    text = render_markdown(result, replace(options, reveal_identifiers=False))
    text = truncate_markdown(text, STEP_SUMMARY_LIMIT - used - 1)
    if not text:
        typer.echo("warning: GITHUB_STEP_SUMMARY is full; summary not added", err=True)
        return
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(("\n" if used else "") + text)
    except OSError as exc:
        raise AuditError(f"GITHUB_STEP_SUMMARY {path}: cannot append: {exc}") from None


def _print_terminal(result: AuditResult, options: ReportOptions) -> None:
    from rich.console import Console
    from rich.text import Text

    from prefsync_audit.report.text import renderables

    console = Console(no_color=bool(os.environ.get("NO_COLOR")))
    for item in renderables(result):
        console.print(item)
    if options.history is not None:
        console.print(Text(options.history.line(), style="bold"))
