"""``findings``: filter the findings of a past run from its output folder.

Reads ``DIR/findings.parquet`` with the filters pushed down to pyarrow, and
checks every filter value against what the run knows (finding kinds,
severities, ``summary.json``'s systems), so a typo is an error rather than an
empty answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from prefsync_audit.investigate.errors import InvestigationError, UnknownSystemError
from prefsync_audit.investigate.runfolder import findings_path
from prefsync_audit.vocab import FindingKind, Severity


@dataclass
class FindingsAnswer:
    """The findings that passed the filters, and how many there were."""

    run: str
    total: int
    """Findings in the run."""
    matched: int
    """Findings passing the filters (before ``limit``)."""
    findings: pd.DataFrame
    """The first ``limit`` of them, columns as in ``findings.parquet``."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``findings --format json``)."""
        rows = json.loads(self.findings.to_json(orient="records", force_ascii=False))
        return {
            "run": self.run,
            "total": self.total,
            "matched": self.matched,
            "returned": len(self.findings),
            "findings": rows,
        }


def _check(name: str, values: list[str], known: list[str]) -> None:
    for value in values:
        if value not in known:
            error = UnknownSystemError if name == "system" else InvestigationError
            raise error(f"unknown {name} {value!r} (known: {', '.join(known)})")


def _systems(run_dir: Path) -> list[str] | None:
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    systems = summary.get("systems")
    return list(systems) if isinstance(systems, list) else None


def query_findings(
    run_dir: Path | str,
    kinds: list[str] | None = None,
    systems: list[str] | None = None,
    severities: list[str] | None = None,
    purposes: list[str] | None = None,
    limit: int | None = None,
) -> FindingsAnswer:
    """The run's findings matching every filter given (each filter: any of its values)."""
    run_dir = Path(run_dir)
    path = findings_path(run_dir)
    kinds, systems = list(kinds or []), list(systems or [])
    severities, purposes = list(severities or []), list(purposes or [])
    _check("kind", kinds, [k.value for k in FindingKind])
    _check("severity", severities, [s.value for s in Severity])
    known_systems = _systems(run_dir)
    if known_systems is not None:
        _check("system", systems, known_systems)
    filters = [
        (column, "in", values)
        for column, values in (
            ("kind", kinds),
            ("system", systems),
            ("severity", severities),
            ("purpose", purposes),
        )
        if values
    ]
    total = pq.ParquetFile(path).metadata.num_rows
    table = pq.read_table(path, filters=filters or None)
    frame = table.to_pandas()
    matched = len(frame)
    if limit is not None and limit > 0:
        frame = frame.head(limit)
    return FindingsAnswer(str(run_dir), total, matched, frame.reset_index(drop=True))
