"""Options several commands share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import OutputFormat

AllowOutsidePaths = Annotated[
    bool,
    typer.Option(
        "--allow-outside-paths",
        help="Read exports and mappings the config names outside its own folder "
        "(through '..', absolute paths or symlinks); refused by default.",
    ),
]

TextOrJson = Annotated[OutputFormat, typer.Option("--format", "-f", help="text or json.")]

FromRun = Annotated[
    Path | None,
    typer.Option(
        "--from-run",
        help="Answer from a past run's output folder (run --output DIR --save-canonical) "
        "instead of re-reading the exports.",
    ),
]

AsOfWhenRunning = Annotated[
    str | None,
    typer.Option("--as-of", help="The audit's 'now' (ISO 8601), when running the audit."),
]

RevealIdentifiers = Annotated[
    bool,
    typer.Option("--reveal-identifiers", help="Show identifiers in full (default: masked)."),
]
