"""``prefsync-audit diff``: compare two systems' copies of the preferences."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import OutputFormat, app, parse_as_of
from prefsync_audit.cli._options import (
    AllowOutsidePaths,
    AsOfWhenRunning,
    FromRun,
    RevealIdentifiers,
    TextOrJson,
)
from prefsync_audit.errors import AuditError


@app.command()
def diff(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="[CONFIG] SYSTEM_A SYSTEM_B",
            help="The audit config and two system names. With --from-run, no CONFIG.",
            show_default=False,
        ),
    ],
    from_run: FromRun = None,
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="Only keys of this purpose.")
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only keys of this channel.")
    ] = None,
    sample: Annotated[
        int, typer.Option("--sample", min=0, help="Disagreeing persons shown per key.")
    ] = 5,
    as_of: AsOfWhenRunning = None,
    output_format: TextOrJson = OutputFormat.text,
    allow_outside_paths: AllowOutsidePaths = False,
    reveal_identifiers: RevealIdentifiers = False,
) -> None:
    """Cross-tab two systems' states (granted/denied/unknown/absent) per preference
    key, with the agreement rate and a sample of persons where they disagree.

    Example: prefsync-audit diff sample_exports/retail/audit.yaml crm email --purpose marketing
    (from a run folder: prefsync-audit diff --from-run out/ cmp ads).
    """
    from prefsync_audit.investigate import ResultSource, RunFolderSource
    from prefsync_audit.investigate.diff import diff_systems
    from prefsync_audit.investigate.render import diff_renderables, print_renderables, to_json

    if from_run is not None:
        if len(args) != 2:
            raise AuditError(
                f"expected diff --from-run DIR SYSTEM_A SYSTEM_B (got {len(args)} argument(s))"
            )
        if as_of is not None:
            raise AuditError("--as-of cannot be used with --from-run (the run fixed its as-of)")
        source = RunFolderSource(from_run)
        system_a, system_b = args
    else:
        if len(args) != 3:
            raise AuditError(
                f"expected diff CONFIG SYSTEM_A SYSTEM_B (got {len(args)} argument(s))"
            )
        from prefsync_audit.audit import run_audit
        from prefsync_audit.config import load_config

        loaded = load_config(Path(args[0]), allow_outside_paths=allow_outside_paths)
        source = ResultSource(run_audit(loaded, as_of=parse_as_of(as_of)))
        system_a, system_b = args[1:]
    answer = diff_systems(
        source, system_a, system_b, purpose, channel, sample=sample, reveal=reveal_identifiers
    )
    if output_format == OutputFormat.json:
        sys.stdout.write(to_json(answer.to_dict()))
    else:
        print_renderables(diff_renderables(answer))
