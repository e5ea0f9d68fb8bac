"""``prefsync-audit mappings``: the vendor presets (list, show) and drafting a
mapping for a new export (infer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import OutputFormat, app
from prefsync_audit.cli._options import TextOrJson
from prefsync_audit.errors import AuditError

mappings_app = typer.Typer(
    name="mappings",
    help="Vendor presets and mapping drafts. Example: prefsync-audit mappings list",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(mappings_app, name="mappings")


@mappings_app.command("list")
def list_command(
    output_format: TextOrJson = OutputFormat.text,
) -> None:
    """List the vendor presets usable as `mapping: preset:NAME`.

    Example: prefsync-audit mappings list --format json
    """
    from prefsync_audit.presets import list_presets

    presets = list_presets()
    if output_format == OutputFormat.json:
        rows = [
            {
                "name": p.name,
                "description": p.description,
                "format": p.format,
                "params": list(p.params),
            }
            for p in presets
        ]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    width = max((len(p.name) for p in presets), default=0)
    for preset in presets:
        params = f"  [params: {', '.join(preset.params)}]" if preset.params else ""
        typer.echo(f"{preset.name:<{width}}  {preset.description}{params}")


@mappings_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="The preset's name (see `mappings list`).")],
    resolved: Annotated[
        bool,
        typer.Option(
            "--resolved",
            help="Show the mapping as the audit uses it: extends merged, params substituted.",
        ),
    ] = False,
) -> None:
    """Print a preset: what it reads, how to get the export, every choice it makes.

    Example: prefsync-audit mappings show hubspot-contacts
    """
    from prefsync_audit.presets import preset_text, resolved_text

    name = name.removeprefix("preset:")
    sys.stdout.write(resolved_text(name) if resolved else preset_text(name))


@mappings_app.command("infer")
def infer_command(
    export: Annotated[Path, typer.Argument(help="An export file, ZIP or folder.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the draft here instead of stdout."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output.")] = False,
) -> None:
    """Draft a mapping for an export: the preset that reads it, or a commented guess.

    Recognizes a preset by the export's headers when one fits; otherwise proposes
    identifier, state and timestamp columns from their names and values. Finish
    the TODOs, name the file in audit.yaml, then run `prefsync-audit validate`.
    Example: prefsync-audit mappings infer exports/contacts.csv -o mappings/crm.yaml
    """
    from prefsync_audit.presets import infer

    if output is not None and output.exists() and not force:
        raise AuditError(f"{output}: already exists (use --force to replace it)")
    result = infer(export)
    if result.preset is not None:
        found = f"preset:{result.preset.name} ({result.preset.share:.0%} of its columns found)"
    else:
        found = "no preset fits; drafted from the columns"
    if output is None:
        sys.stdout.write(result.text)
        typer.echo(found, err=True)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(result.text, encoding="utf-8")
    typer.echo(f"{output}: {found}")
