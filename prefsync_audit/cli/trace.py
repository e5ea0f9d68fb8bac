"""``prefsync-audit trace``: everything the audit knows about one person."""

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
def trace(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="[CONFIG] IDENTIFIER",
            help="The audit config and an email, phone (any spelling), customer id, "
            "SHA-256 hash or person:ID. With --from-run, CONFIG is optional.",
            show_default=False,
        ),
    ],
    from_run: FromRun = None,
    as_of: AsOfWhenRunning = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Also read a phone IDENTIFIER as written in this region (default: the "
            "config's identity.default_region; US with --from-run and no CONFIG).",
        ),
    ] = None,
    output_format: TextOrJson = OutputFormat.text,
    allow_outside_paths: AllowOutsidePaths = False,
    reveal_identifiers: RevealIdentifiers = False,
) -> None:
    """Trace one person: identifiers, records, per-key timeline, the rule that
    decided each expected state, and each system's verdict.

    The identifier is normalized as the pipeline does and tried against every
    identifier kind; no match, or several persons, is an error (exit 2).
    Example: prefsync-audit trace sample_exports/retail/audit.yaml maya.thornbury@gmail.com
    (from a run folder: prefsync-audit trace --from-run out/ '(312) 555-0112').
    """
    from prefsync_audit.investigate import ResultSource, RunFolderSource, trace_person
    from prefsync_audit.investigate.render import print_renderables, to_json, trace_renderables

    config_path, identifier = _split(args, from_run is not None)
    if from_run is not None:
        if as_of is not None:
            raise AuditError("--as-of cannot be used with --from-run (the run fixed its as-of)")
        config = None
        if config_path is not None:
            from prefsync_audit.config import load_config

            config = load_config(config_path, allow_outside_paths=allow_outside_paths)
        source = RunFolderSource(from_run, config=config, region=region)
    else:
        from prefsync_audit.audit import run_audit
        from prefsync_audit.config import load_config

        loaded = load_config(Path(config_path or ""), allow_outside_paths=allow_outside_paths)
        result = run_audit(loaded, as_of=parse_as_of(as_of))
        source = ResultSource(result)
        source.settings = source.settings.with_region(region)
    answer = trace_person(source, identifier, reveal=reveal_identifiers)
    if output_format == OutputFormat.json:
        sys.stdout.write(to_json(answer.to_dict()))
    else:
        print_renderables(trace_renderables(answer))


def _split(args: list[str], from_run: bool) -> tuple[str | None, str]:
    """(CONFIG, IDENTIFIER) from the positional arguments."""
    if len(args) == 2:
        return args[0], args[1]
    if len(args) == 1 and from_run:
        return None, args[0]
    usage = "trace CONFIG IDENTIFIER, or trace --from-run DIR [CONFIG] IDENTIFIER"
    raise AuditError(f"expected {usage} (got {len(args)} argument(s))")
