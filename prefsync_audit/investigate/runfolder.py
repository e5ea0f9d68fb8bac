"""Investigating a past run from its output folder, without re-reading the exports.

Reads ``summary.json`` (as-of, systems, policy), ``findings.parquet`` and the
canonical tables written by ``run --output DIR --save-canonical`` through the
investigation index (:mod:`prefsync_audit.investigate.index`): pyarrow filters
on sorted, small row groups, so a person's rows come back in milliseconds
whatever the size of the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from prefsync_audit.config import AuditConfig, AuthorityRule, PolicyConfig
from prefsync_audit.investigate.errors import RunFolderError
from prefsync_audit.investigate.identifiers import LookupSettings
from prefsync_audit.investigate.index import canonical_dir, ensure_index, read_meta, record_kinds
from prefsync_audit.investigate.source import RunInfo, as_text
from prefsync_audit.mask import mask_value


def read_summary(run_dir: Path) -> dict[str, Any]:
    """``DIR/summary.json``, or a one-line error."""
    path = Path(run_dir) / "summary.json"
    if not Path(run_dir).is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(
            f"{path}: not found (is {run_dir} the --output folder of a run?)"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path}: unreadable ({exc})") from None


def findings_path(run_dir: Path) -> Path:
    """``DIR/findings.parquet``, or a one-line error."""
    path = Path(run_dir) / "findings.parquet"
    if not Path(run_dir).is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise RunFolderError(f"{path}: not found (is {run_dir} the --output folder of a run?)")
    return path


def policy_of_summary(summary: dict[str, Any]) -> AuditConfig:
    """A config carrying only the policy a run applied (from its ``summary.json``)."""
    policy = summary.get("policy") or {}
    authorities = [
        AuthorityRule.model_validate({"key": rule["key"], "system": rule["system"]})
        for rule in policy.get("authorities", [])
    ]
    config = PolicyConfig(
        authorities=authorities,
        regrant_requires_evidence=bool(policy.get("regrant_requires_evidence", True)),
    )
    return AuditConfig.model_construct(systems={}, policy=config)


class RunFolderSource:
    """An investigation over a run folder (``run --output DIR --save-canonical``)."""

    def __init__(
        self, run_dir: Path | str, config: AuditConfig | None = None, region: str | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        summary = read_summary(self.run_dir)
        canonical_dir(self.run_dir)
        self._findings_path = findings_path(self.run_dir)
        policy = policy_of_summary(summary)
        self.info = RunInfo(
            label=f"run {self.run_dir}",
            as_of=summary.get("as_of"),
            systems=list(summary.get("systems") or []),
            policy=policy,
            regrant_requires_evidence=policy.policy.regrant_requires_evidence,
        )
        self._summary = summary
        exact = LookupSettings.from_config(config) if config is not None else None
        self._profiles = exact.profiles if exact is not None else None
        self._index: Path | None = None
        self._kinds: list[str] = []
        if exact is not None:
            self.settings = exact.with_region(region)
        else:
            self.settings = LookupSettings.guessed(record_kinds(self.run_dir), region or "US")

    @property
    def index(self) -> Path:
        """The investigation index, built on first use (see :mod:`.index`)."""
        if self._index is None:
            self._index, meta = ensure_index(self.run_dir, self._profiles)
            self._kinds = list(meta["identifier_kinds"])
        return self._index

    def _read(
        self, name: str, filters: list | None = None, columns: list[str] | None = None
    ) -> pd.DataFrame:
        table = pq.read_table(self.index / name, filters=filters, columns=columns)
        return as_text(table.to_pandas())

    def identifier_rows(self, values: Iterable[str]) -> pd.DataFrame:
        values = sorted(set(values))
        if not values:
            return pd.DataFrame({"kind": [], "value": [], "person_id": []})
        # One equality per value: each prunes row groups by their min/max statistics.
        filters = [[("value", "=", value)] for value in values]
        rows = self._read("identifiers.parquet", filters)
        rows["kind"] = [self._kinds[int(code)] for code in rows["kind"]]
        return rows.drop_duplicates(ignore_index=True)

    def records(self, person_ids: Iterable[int]) -> pd.DataFrame:
        ids = sorted({int(p) for p in person_ids})
        filters = [[("person_id", "=", p)] for p in ids] or [[("person_id", "=", -1)]]
        if self._index is None and read_meta(self.run_dir) is None:
            # No index yet (a diff's sample): one filtered scan beats building it.
            table = pq.read_table(canonical_dir(self.run_dir) / "records.parquet", filters=filters)
            return as_text(table.to_pandas())
        return self._read("records.parquet", filters)

    def observations(self, person_id: int) -> pd.DataFrame:
        return self._read("observations.parquet", [("person_id", "=", int(person_id))])

    def expected(self, person_id: int) -> pd.DataFrame:
        return self._read("expected.parquet", [("person_id", "=", int(person_id))])

    def system_states(
        self, person_id: int | None = None, systems: list[str] | None = None
    ) -> pd.DataFrame:
        if person_id is not None:
            frame = self._read("system_states.parquet", [("person_id", "=", int(person_id))])
            return frame if systems is None else frame[frame["system"].isin(systems)]
        # Everyone: the canonical table, only the columns and systems asked for.
        columns = ["person_id", "purpose", "channel", "scope", "system", "actual_state"]
        filters = [("system", "in", list(systems))] if systems else None
        table = pq.read_table(
            canonical_dir(self.run_dir) / "system_states.parquet",
            columns=columns,
            filters=filters,
            read_dictionary=columns[1:],  # few distinct values: no string per row
        )
        return table.to_pandas()  # categoricals kept: millions of rows

    def findings(self, person_id: int) -> pd.DataFrame:
        table = pq.read_table(self._findings_path, filters=[("person_id", "=", int(person_id))])
        return as_text(table.to_pandas())

    def anchor(self, person_id: int) -> tuple[str, str] | None:
        frame = self._read("anchors.parquet", [("person_id", "=", int(person_id))])
        if frame.empty:
            return None
        return str(frame["anchor_kind"].iloc[0]), str(frame["anchor_value"].iloc[0])

    def ignored_reasons(
        self, person_id: int, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """A value the person shares with other persons was left out of linking
        (else they would be one person); ``summary.json`` names the reason when
        its masked list singles the value out."""
        pairs = list(pairs)
        rows = self.identifier_rows(value for _, value in pairs)
        others = rows[rows["person_id"] != person_id]
        shared = others.groupby(["kind", "value"])["person_id"].nunique().to_dict()
        listed: dict[tuple[str, str], list[str]] = {}
        for entry in (self._summary.get("identity") or {}).get("ignored", []):
            listed.setdefault((entry["kind"], entry["value"]), []).append(entry["reason"])
        reasons = {}
        for kind, value in pairs:
            count = shared.get((kind, value))
            if not count:
                continue
            named = listed.get((kind, mask_value(kind, value)), [])
            why = named[0] if len(named) == 1 else "a placeholder, or shared by too many records"
            reasons[(kind, value)] = f"{why}; shared with {count} other person(s)"
        return reasons
