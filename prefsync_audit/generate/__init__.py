"""Scenario generator: synthetic exports of five systems with planted drift and
their ground truth (``prefsync-audit generate``).

    from prefsync_audit.generate import generate_scenario
    summary = generate_scenario("scenario/", persons=100_000, seed=7)

Stages: draw identities and one case per person (:mod:`scenario`), fill in
consistent data (:mod:`_fillers`), plant the cases (:mod:`_planted`), lay out
the rows (:mod:`rows`), derive the truth from DESIGN §5/§6 (:mod:`truth`),
write the exports (:mod:`writers`), the config (:mod:`config_text`) and the
truth files (:mod:`truth_file`). Vectorized throughout; same seed → same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefsync_audit.errors import AuditError
from prefsync_audit.generate._fillers import fill
from prefsync_audit.generate._planted import plant
from prefsync_audit.generate.config_text import MAX_RECORDS_PER_VALUE, SLA_HOURS, write_config
from prefsync_audit.generate.drift import DriftRates, parse_drift
from prefsync_audit.generate.rows import layout
from prefsync_audit.generate.scenario import (
    MC_NONE,
    SYSTEMS,
    TW_NONE,
    Case,
    Clock,
    Scenario,
    new_scenario,
)
from prefsync_audit.generate.truth import ground_truth
from prefsync_audit.generate.truth_file import write_truth
from prefsync_audit.generate.writers import write_exports

DEFAULT_AS_OF = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
FORMATS = ("csv", "parquet")

__all__ = ["SYSTEMS", "DriftRates", "GeneratedScenario", "generate_scenario", "parse_drift"]


@dataclass
class GeneratedScenario:
    """What was written."""

    out_dir: Path
    config: Path
    truth: dict
    """The content of ``truth.json``."""


def check_systems(systems: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise AuditError(
            f"--systems: unknown system(s) {', '.join(unknown)} (known: {', '.join(SYSTEMS)})"
        )
    if "cmp" not in systems:
        raise AuditError("--systems: 'cmp' is required (it is the authority for marketing grants)")
    if "sms" in systems and "crm" not in systems:
        raise AuditError("--systems: 'sms' needs 'crm' (Twilio's phone numbers link through it)")
    return tuple(s for s in SYSTEMS if s in systems)


def _drop_absent(sc: Scenario) -> None:
    """Systems left out hold nothing (the truth is derived from what is exported)."""
    if "crm" not in sc.systems:
        sc.crm.present[:] = False
        sc.ads.with_email |= sc.ads.member
        sc.ads.with_phone &= sc.case == Case.ADS_ONLY  # nothing else links a phone hash
    if "email" not in sc.systems:
        sc.mc.status[:] = MC_NONE
    if "sms" not in sc.systems:
        sc.tw.kind[:] = TW_NONE
        sc.help_only = sc.help_only[:0]
        sc.help_time = sc.help_time[:0]
    if "ads" not in sc.systems:
        sc.ads.member[:] = False


def generate_scenario(
    out_dir: str | Path,
    persons: int,
    seed: int,
    systems: tuple[str, ...] = SYSTEMS,
    drift: DriftRates | None = None,
    fmt: str = "csv",
    as_of: int = DEFAULT_AS_OF,
) -> GeneratedScenario:
    """Write a complete scenario into ``out_dir`` and return its summary."""
    if persons < 1:
        raise AuditError("--persons must be at least 1")
    if fmt not in FORMATS:
        raise AuditError(f"--format must be one of {', '.join(FORMATS)}")
    systems = check_systems(tuple(systems))
    drift = drift or DriftRates()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out)

    sla = SLA_HOURS * 3600
    sc, rng = new_scenario(
        persons, seed, as_of, sla, systems, drift, fmt == "csv", MAX_RECORDS_PER_VALUE
    )
    clock = Clock(rng, as_of, sla, drift.late_sync)
    fill(sc, rng, clock)
    plant(sc, rng, clock)
    _drop_absent(sc)
    rows = layout(sc)
    truth = ground_truth(sc, rows)
    written = write_exports(sc, rows, out, fmt, rng)
    write_config(out, seed, persons, fmt, as_of, systems, _options(systems, drift, fmt))
    document = write_truth(out, sc, truth, written, fmt)
    return GeneratedScenario(out, out / "audit.yaml", document)


def _options(systems: tuple[str, ...], drift: DriftRates, fmt: str) -> str:
    """The command-line options that reproduce this scenario (defaults left out)."""
    parts = []
    if systems != SYSTEMS:
        parts.append(f" --systems {','.join(systems)}")
    changed = {k: v for k, v in drift.as_dict().items() if v != getattr(DriftRates(), k)}
    if changed:
        parts.append(" --drift " + ",".join(f"{k}={v:g}" for k, v in changed.items()))
    if fmt != "csv":
        parts.append(f" --format {fmt}")
    return "".join(parts)


def _remove_previous(out: Path) -> None:
    """Remove the files an earlier run wrote (another format leaves other names)."""
    exports = out / "exports"
    for pattern in ("*.csv", "*.parquet", "mailchimp/*_email_audience_export_*.*"):
        for path in exports.glob(pattern):
            path.unlink()
    for name in ("truth.parquet", "truth.json"):
        (out / name).unlink(missing_ok=True)
