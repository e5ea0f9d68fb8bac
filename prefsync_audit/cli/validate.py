"""``prefsync-audit validate``: check a config without running the audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import EXIT_ERROR, app
from prefsync_audit.cli._options import AllowOutsidePaths


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The audit config (audit.yaml).")],
    allow_outside_paths: AllowOutsidePaths = False,
) -> None:
    """Check the config, every mapping and every export's header without auditing.

    Reports every problem found, one per line. Example:
    prefsync-audit validate sample_exports/retail/audit.yaml
    """
    from prefsync_audit.validate import validate_config

    loaded, problems = validate_config(config, allow_outside_paths=allow_outside_paths)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"{config}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(EXIT_ERROR)
    systems = ", ".join(loaded.systems) if loaded else ""
    typer.echo(f"{config}: OK ({systems})")
