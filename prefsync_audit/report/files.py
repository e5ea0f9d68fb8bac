"""Writing output files: atomically, and findings safe to open in a spreadsheet."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefsync_audit.audit import AuditResult
from prefsync_audit.report.model import ReportOptions, build_report
from prefsync_audit.report.summary import iso_texts, render_json

#: Leading characters a spreadsheet would run as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def write_atomic(path: Path, write: Callable[[Path], object], private: bool = False) -> None:
    """Write through a temporary file in the same folder, then rename into place,
    so an interrupted run never leaves a half-written file that looks complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o600 if private else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, private: bool = False) -> None:
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"), private)


def neutralize_formulas(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``neutralize_formulas`` of every cell: the text columns tested at once,
    the few cells that start like a formula prefixed (numbers and times are
    never formulas; a call per cell took 1.4 s for the 37k findings at 1M)."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype != object and str(values.dtype) not in ("str", "string"):
            continue
        risky = _starting_like_a_formula(values)
        if risky.any():
            fixed = values.astype(object)
            fixed[risky] = [neutralize_formulas(value) for value in values[risky]]
            safe[column] = fixed
    return safe


def _starting_like_a_formula(values: pd.Series) -> np.ndarray:
    """Which values are text starting with a formula prefix: tested in Arrow when
    the column is all text (a Python call per value otherwise)."""
    try:
        texts = pa.array(values.to_numpy(dtype=object), pa.large_string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError):
        return values.str.startswith(FORMULA_PREFIXES, na=False).to_numpy(dtype=bool)
    risky = pa.array(np.zeros(len(texts), dtype=bool))
    for prefix in FORMULA_PREFIXES:
        risky = pc.or_(risky, pc.fill_null(pc.starts_with(texts, prefix), False))
    return risky.to_numpy(zero_copy_only=False)


def findings_for_files(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings with timestamps as ISO text, ready for CSV and Parquet."""
    frame = findings.copy()
    for column in ("authority_updated_at", "deciding_at", "system_updated_at"):
        frame[column] = iso_texts(frame[column])
    for column in frame.columns:
        if frame[column].dtype == "object" or str(frame[column].dtype) in ("str", "string"):
            frame[column] = frame[column].astype("object")
    return frame


def write_outputs(
    result: AuditResult, out_dir: Path, options: ReportOptions | None = None
) -> list[Path]:
    """``summary.json``, ``findings.parquet``, ``findings.csv`` and the report files
    (``report.md``, ``report.html``, ``junit.xml``) into ``out_dir``.

    With ``options.reveal_identifiers`` the Markdown and HTML reports hold raw
    identifiers and are written owner-only (0600).
    """
    from prefsync_audit.report import REPORT_FILES, REVEALING_FILES

    options = options or ReportOptions()
    frame = findings_for_files(result.findings)
    written = []
    # summary.json marks a complete set: it goes first and comes back last, so an
    # interrupted re-run never leaves a new summary beside the old run's reports.
    summary = out_dir / "summary.json"
    summary.unlink(missing_ok=True)

    parquet = out_dir / "findings.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    write_atomic(parquet, lambda p: pq.write_table(table, p))
    written.append(parquet)

    csv_path = out_dir / "findings.csv"
    safe = formula_safe(frame)
    write_atomic(csv_path, lambda p: safe.to_csv(p, index=False, lineterminator="\n"))
    written.append(csv_path)

    report = build_report(result, options)
    for name, document in REPORT_FILES.items():
        private = options.reveal_identifiers and name in REVEALING_FILES
        write_text(out_dir / name, document(report), private=private)
        written.append(out_dir / name)
    write_text(summary, render_json(result, options.history))
    return [summary, *written]


def _write_parquet(path: Path, frame: pd.DataFrame, private: bool = False) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    write_atomic(path, lambda p: pq.write_table(table, p), private)


def write_canonical(result: AuditResult, out_dir: Path) -> list[Path]:
    """The canonical tables and the person map as Parquet under ``out_dir/canonical/``,
    so investigations (``trace --from-run``, ``diff --from-run``) need not re-read the
    exports. They hold raw identifiers, so they are written owner-only."""
    folder = out_dir / "canonical"
    records = result.canonical.records.copy()
    records.insert(
        1, "person_id", result.resolution.person_of_record.reindex(records["record_key"]).to_numpy()
    )
    tables = {
        "records.parquet": records,
        "observations.parquet": result.canonical.observations,
        "expected.parquet": result.evaluation.expected,
        "system_states.parquet": result.evaluation.system_states,
        "anchors.parquet": result.resolution.anchors,
    }
    written = []
    for name, frame in tables.items():
        frame = frame.copy()
        for column in frame.columns:
            if str(frame[column].dtype) in ("str", "string"):
                frame[column] = frame[column].astype("object")
        _write_parquet(folder / name, frame, private=True)
        written.append(folder / name)
    folder.chmod(0o700)
    # Index the tables by person and identifier now, with this run's own hash
    # profiles, so the first `trace --from-run` is as fast as the next.
    from prefsync_audit.investigate.index import build_index
    from prefsync_audit.resolve import hash_profiles

    config = result.config
    build_index(out_dir, hash_profiles([config.mapping_of(s) for s in config.systems]))
    return written
