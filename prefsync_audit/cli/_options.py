"""Options several commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

AllowOutsidePaths = Annotated[
    bool,
    typer.Option(
        "--allow-outside-paths",
        help="Read exports and mappings the config names outside its own folder "
        "(through '..', absolute paths or symlinks); refused by default.",
    ),
]
