"""``prefsync-audit generate``: write a synthetic scenario with planted drift."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from prefsync_audit.cli._app import app


class ScenarioFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the scenario into.")],
    persons: Annotated[
        int, typer.Option("--persons", "-n", help="How many people to generate.", min=1)
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Same seed, same bytes.")] = 0,
    systems: Annotated[
        str,
        typer.Option(
            "--systems",
            help="Comma-separated systems to export: crm, email, sms, cmp, ads "
            "(cmp is required; sms needs crm).",
        ),
    ] = "crm,email,sms,cmp,ads",
    drift: Annotated[
        str | None,
        typer.Option(
            "--drift",
            help="Planted rates, NAME=RATE,… e.g. suppression_gap=0.02,pending_sync=0.01 "
            "(see docs/generate.md for the names and defaults).",
        ),
    ] = None,
    output_format: Annotated[
        ScenarioFormat, typer.Option("--format", "-f", help="Export file format.")
    ] = ScenarioFormat.csv,
) -> None:
    """Write exports of five systems with planted drift, an audit.yaml and the ground
    truth (truth.parquet, truth.json) listing every finding the audit must report.

    Example: prefsync-audit generate scenario/ --persons 100000 --seed 7
    """
    from prefsync_audit.generate import generate_scenario, parse_drift

    chosen = tuple(s.strip() for s in systems.split(",") if s.strip())
    result = generate_scenario(
        out_dir,
        persons=persons,
        seed=seed,
        systems=chosen,
        drift=parse_drift(drift),
        fmt=output_format.value,
    )
    expected = result.truth["expected"]
    typer.echo(f"wrote {result.config} ({persons} persons, seed {seed})")
    typer.echo(f"  persons after identity resolution: {expected['persons']}")
    for kind, count in expected["findings_by_kind"].items():
        typer.echo(f"  {kind}: {count}")
    typer.echo(f"  truth: {out_dir / 'truth.parquet'}, {out_dir / 'truth.json'}")
