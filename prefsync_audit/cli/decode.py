"""``prefsync-audit decode``: show what a consent string says."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from prefsync_audit.cli._app import OutputFormat, app
from prefsync_audit.cli._options import TextOrJson


@app.command()
def decode(
    text: Annotated[
        str, typer.Argument(help="A TC, GPP or US Privacy string, GPC flag or Consent Mode value.")
    ],
    kind: Annotated[
        str | None,
        typer.Option("--kind", "-k", help="tcf, gpp, usp, gpc or consent_mode (default: guess)."),
    ] = None,
    output_format: TextOrJson = OutputFormat.text,
) -> None:
    """Decode a consent string and show every field and the preferences it implies.

    A malformed string is an error naming the position and the reason (exit 2).
    Example: prefsync-audit decode 'DBABTA~1YNN'
    """
    from prefsync_audit.errors import SignalDecodeError
    from prefsync_audit.signals import SIGNAL_KINDS, decode, to_dict, to_preferences
    from prefsync_audit.signals.detect import detect_kind

    if kind is not None and kind not in SIGNAL_KINDS:
        raise SignalDecodeError(f"--kind must be one of {', '.join(SIGNAL_KINDS)}")
    chosen = kind or detect_kind(text)
    decoded = decode(chosen, text.strip())  # type: ignore[arg-type]
    document = {
        "kind": chosen,
        "preferences": dict(to_preferences(decoded)),
        "decoded": to_dict(decoded),
    }
    if output_format == OutputFormat.json:
        typer.echo(json.dumps(document, indent=2))
        return
    from rich.console import Console
    from rich.pretty import Pretty

    console = Console()
    console.print(f"[bold]{chosen}[/bold] string")
    for purpose, state in document["preferences"].items():
        console.print(f"  {purpose}: {state}")
    console.print(Pretty(document["decoded"]))
