"""``prefsync-audit dictionary``: the preference dictionary of an audit config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import app
from prefsync_audit.cli._options import AllowOutsidePaths


@app.command()
def dictionary(
    config: Annotated[Path, typer.Argument(help="The audit config (audit.yaml).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write preference-dictionary.md and .html into this folder "
            "(default: print the Markdown).",
        ),
    ] = None,
    allow_outside_paths: AllowOutsidePaths = False,
) -> None:
    """Write the preference dictionary: every key, its meaning, and where each system keeps it.

    For each preference key: its definition, the authority, and per system the
    column, each value and the state it means, and the timestamp used. Generated
    from the config's mappings.
    Example: prefsync-audit dictionary sample_exports/vendors/audit.yaml -o docs/dictionary/
    """
    from prefsync_audit.config import load_config
    from prefsync_audit.dictionary import build_dictionary, render_markdown, write_dictionary

    built = build_dictionary(load_config(config, allow_outside_paths=allow_outside_paths))
    if output is None:
        sys.stdout.write(render_markdown(built))
        return
    for path in write_dictionary(built, output):
        typer.echo(str(path))
