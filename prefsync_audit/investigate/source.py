"""Where an investigation reads a run's tables from.

Two sources answer the same questions:

* :class:`ResultSource` — an :class:`~prefsync_audit.audit.AuditResult` in
  memory (``trace CONFIG …`` runs the audit first);
* :class:`~prefsync_audit.investigate.runfolder.RunFolderSource` — the Parquet
  files of a past run (``trace --from-run DIR …``), read with pyarrow filters so
  one person's rows come back without loading the run.

Every table a source returns has plain ``object`` text columns (no
categoricals) and the columns listed in each method's docstring; findings have
their times as ISO text, as in ``findings.parquet``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from prefsync_audit.config import AuditConfig
from prefsync_audit.investigate.identifiers import LookupSettings, identifier_table

if TYPE_CHECKING:  # the audit pulls in every stage; a run folder needs none of them
    from prefsync_audit.audit import AuditResult

TEXT_COLUMNS = (
    "system",
    "purpose",
    "channel",
    "scope",
    "state",
    "actual_state",
    "expected_state",
    "deciding_system",
    "authority_system",
)


@dataclass(frozen=True)
class RunInfo:
    """What a source says about the run it holds."""

    label: str
    """``config PATH`` or ``run DIR``: where the answer comes from."""
    as_of: str | None
    """The run's "now", ISO text."""
    systems: list[str]
    """System names in config order."""
    policy: AuditConfig
    """A config whose ``policy`` is the one the run applied (for from-run sources,
    rebuilt from ``summary.json``; only ``policy`` is meaningful there)."""
    regrant_requires_evidence: bool
    """The run's ``policy.regrant_requires_evidence``."""


class Source(Protocol):
    """The questions an investigation asks of a run."""

    info: RunInfo
    settings: LookupSettings

    def identifier_rows(self, values: Iterable[str]) -> pd.DataFrame:
        """Distinct ``kind, value, person_id`` whose value is one of ``values``
        (plain identifiers, held hashes and hashes derived from plain values)."""
        ...

    def records(self, person_ids: Iterable[int]) -> pd.DataFrame:
        """The persons' records: ``record_key, person_id, system, source_file,
        source_row, record_id`` and one column per identifier kind."""
        ...

    def observations(self, person_id: int) -> pd.DataFrame:
        """The person's observations (canonical columns plus ``person_id``)."""
        ...

    def expected(self, person_id: int) -> pd.DataFrame:
        """The person's rows of the expected-state table."""
        ...

    def system_states(
        self, person_id: int | None = None, systems: list[str] | None = None
    ) -> pd.DataFrame:
        """System states of one person, or of everyone in ``systems``."""
        ...

    def findings(self, person_id: int) -> pd.DataFrame:
        """The person's findings, as in ``findings.parquet``."""
        ...

    def anchor(self, person_id: int) -> tuple[str, str] | None:
        """The person's anchor identifier (kind, value), if the person exists."""
        ...

    def ignored_reasons(
        self, person_id: int, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """For the person's (kind, value) pairs left out of linking: why."""
        ...


def iso(value: datetime | pd.Timestamp | str | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` (as ``summary.json`` and the findings files write times)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def findings_as_files(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings with their times as ISO text, as ``findings.parquet`` holds them."""
    frame = findings.copy()
    for column in ("authority_updated_at", "deciding_at", "system_updated_at"):
        if column in frame.columns:
            frame[column] = [iso(v) for v in frame[column]]
    return frame


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns (categorical, string or object) as ``object`` with ``None`` for
    missing values, so tables read from Parquet and from memory compare equal."""
    frame = frame.copy()
    for column in frame.columns:
        dtype = str(frame[column].dtype)
        if column in TEXT_COLUMNS or dtype in ("category", "str", "string", "object"):
            values = frame[column].to_numpy(dtype=object, na_value=None)
            frame[column] = pd.Series(values, index=frame.index, dtype=object)
    return frame


class ResultSource:
    """An investigation over an audit result held in memory."""

    def __init__(self, result: AuditResult) -> None:
        config = result.config
        self.result = result
        self.info = RunInfo(
            label=f"config {config.source}" if config.source else "config",
            as_of=iso(result.as_of),
            systems=list(config.systems),
            policy=config,
            regrant_requires_evidence=config.policy.regrant_requires_evidence,
        )
        self.settings = LookupSettings.from_config(config)
        person_of_record = result.resolution.person_of_record
        records = result.canonical.records.copy()
        records.insert(1, "person_id", person_of_record.reindex(records["record_key"]).to_numpy())
        self._records = as_text(records)
        observations = result.canonical.observations.copy()
        observations["person_id"] = person_of_record.reindex(observations["record_key"]).to_numpy()
        self._observations = as_text(observations)
        self._identifiers = identifier_table(
            self._records, self.settings.kinds, self.settings.profiles
        )
        self._expected = as_text(result.evaluation.expected)
        self._states = as_text(result.evaluation.system_states)
        self._findings = as_text(findings_as_files(result.findings))
        ignored = result.resolution.ignored_values
        self._ignored = {
            (kind, value): reason
            for kind, value, reason in zip(
                ignored["kind"], ignored["value"], ignored["reason"], strict=True
            )
        }

    def identifier_rows(self, values: Iterable[str]) -> pd.DataFrame:
        table = self._identifiers
        rows = table.loc[table["value"].isin(list(values)), ["kind", "value", "person_id"]]
        return rows.drop_duplicates().reset_index(drop=True)

    def records(self, person_ids: Iterable[int]) -> pd.DataFrame:
        records = self._records
        return records[records["person_id"].isin(list(person_ids))].reset_index(drop=True)

    def observations(self, person_id: int) -> pd.DataFrame:
        frame = self._observations
        return frame[frame["person_id"] == person_id].reset_index(drop=True)

    def expected(self, person_id: int) -> pd.DataFrame:
        frame = self._expected
        return frame[frame["person_id"] == person_id].reset_index(drop=True)

    def system_states(
        self, person_id: int | None = None, systems: list[str] | None = None
    ) -> pd.DataFrame:
        frame = self._states
        keep = pd.Series(True, index=frame.index)
        if person_id is not None:
            keep &= frame["person_id"] == person_id
        if systems is not None:
            keep &= frame["system"].isin(systems)
        return frame[keep].reset_index(drop=True)

    def findings(self, person_id: int) -> pd.DataFrame:
        frame = self._findings
        return frame[frame["person_id"] == person_id].reset_index(drop=True)

    def anchor(self, person_id: int) -> tuple[str, str] | None:
        anchors = self.result.resolution.anchors
        row = anchors[anchors["person_id"] == person_id]
        if row.empty:
            return None
        return str(row["anchor_kind"].iloc[0]), str(row["anchor_value"].iloc[0])

    def ignored_reasons(
        self, person_id: int, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        return {pair: self._ignored[pair] for pair in pairs if pair in self._ignored}
