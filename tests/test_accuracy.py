"""Accuracy: on generated scenarios the audit reports exactly the planted findings.

``prefsync-audit generate`` writes exports with planted drift and the ground
truth derived from DESIGN §5/§6 (``truth.parquet``, ``truth.json``). Here the
audit runs on them and must report every planted finding and nothing else, with
the metrics that follow from the truth. Sizes stay small so this runs in
seconds; the benchmark (``bench/run_benchmark.py``) covers millions.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from prefsync_audit import run_audit
from prefsync_audit.generate import generate_scenario, parse_drift
from prefsync_audit.generate.drift import DriftRates

HEAVY = (
    "suppression_gap=0.08,pending_sync=0.05,unverified_resubscribe=0.05,over_suppression=0.05,"
    "unconfirmed_grant=0.05,missing_preference=0.03,identity_conflict=0.03,unmapped_value=0.02,"
    "quarantined_row=0.02,untimed_denial=0.02"
)
SCENARIOS = [
    pytest.param(dict(persons=300, seed=1), id="300-seed1"),
    pytest.param(dict(persons=2_000, seed=2), id="2k-seed2"),
    pytest.param(dict(persons=10_000, seed=3), id="10k-seed3"),
    pytest.param(dict(persons=2_000, seed=4, fmt="parquet"), id="2k-parquet"),
    pytest.param(dict(persons=3_000, seed=6, systems=("crm", "email", "cmp")), id="no-sms-ads"),
    pytest.param(dict(persons=1_500, seed=7, drift=parse_drift(HEAVY)), id="heavy-drift"),
]


def _random_mix(seed: int) -> dict:
    """A scenario drawn at random (reproducibly): its size, systems, format and every
    drift rate. 340 such draws ran without a difference from the truth when this was
    written; the suite keeps a few, so that rates no hand-picked scenario combines are
    covered too."""
    rng = random.Random(seed)
    systems = ["cmp"] + [name for name in ("crm", "email", "ads") if rng.random() < 0.8]
    if "crm" in systems and rng.random() < 0.8:
        systems.append("sms")
    rates = {name: rng.random() * rng.choice([0.0, 0.02, 0.06]) for name in DriftRates.PER_PERSON}
    rates |= {name: rng.random() for name in ("late_sync", "email_spelling", "phone_spelling")}
    return dict(
        persons=rng.choice([50, 700, 2_500]),
        seed=seed,
        systems=tuple(name for name in ("crm", "email", "sms", "cmp", "ads") if name in systems),
        drift=replace(DriftRates(), **rates),
        fmt=rng.choice(["csv", "csv", "parquet"]),
    )


SCENARIOS += [pytest.param(_random_mix(seed), id=f"random-{seed}") for seed in (11, 15, 16, 17, 23)]
ANCHORS = ["customer_id", "email", "phone", "email_sha256", "phone_sha256"]
KEY = ["purpose", "channel", "scope"]
MISMATCH = ["suppression_gap", "pending_sync", "unverified_resubscribe", "over_suppression"]


class Audited:
    def __init__(self, folder: Path):
        self.result = run_audit(folder / "audit.yaml")
        self.truth = pq.read_table(folder / "truth.parquet").to_pandas()
        self.expected = json.loads((folder / "truth.json").read_text())["expected"]


@pytest.fixture(scope="module", params=SCENARIOS)
def audited(request, tmp_path_factory) -> Audited:
    folder = tmp_path_factory.mktemp("accuracy")
    generate_scenario(folder, **request.param)
    return Audited(folder)


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _by_row(findings: pd.DataFrame) -> Counter:
    columns = ["kind", "system", "source_file", "source_row"]
    rows = findings[columns].astype({"source_row": "Int64"})
    return Counter(tuple(_text(v) for v in row) for row in rows.itertuples(False))


def _person_of_truth(audited: Audited) -> pd.Series:
    """The audit's person_id of each truth row, found through the row's identifiers."""
    records = audited.result.canonical.records
    person = audited.result.resolution.person_of_record.reindex(records["record_key"])
    lookup: dict[tuple[str, str], set[int]] = {}
    for kind in ANCHORS:
        values = pd.DataFrame({"value": records[kind].to_numpy(), "person": person.to_numpy()})
        values = values[values["value"].isin(audited.truth[kind].dropna())]
        for value, group in values.groupby("value")["person"]:
            lookup[(kind, value)] = set(group)
    found = []
    for row in audited.truth[ANCHORS].itertuples(index=False):
        anchor = next(((k, v) for k, v in zip(ANCHORS, row, strict=True) if _text(v)), None)
        persons = lookup.get(anchor, set())
        assert len(persons) == 1, f"truth identifier {anchor} is {len(persons)} persons"
        found.append(next(iter(persons)))
    return pd.Series(found, index=audited.truth.index, dtype="int64")


def test_findings_equal_truth_by_source_row(audited: Audited):
    """(kind, system, source_file, source_row): no planted finding missed, none extra."""
    actual, expected = _by_row(audited.result.findings), _by_row(audited.truth)
    assert actual - expected == Counter(), "findings the truth does not plant"
    assert expected - actual == Counter(), "planted findings the audit missed"


def test_findings_equal_truth_by_key_and_person(audited: Audited):
    """(kind, system, purpose, channel, scope, person): the same, through identifiers."""
    truth = audited.truth.assign(person_id=_person_of_truth(audited))
    columns = ["kind", "system", *KEY, "person_id"]

    def keyed(frame: pd.DataFrame) -> Counter:
        return Counter(tuple(_text(v) for v in row) for row in frame[columns].itertuples(False))

    actual, expected = keyed(audited.result.findings), keyed(truth)
    assert actual - expected == Counter()
    assert expected - actual == Counter()


def test_deciding_change_and_system_time_equal_truth(audited: Audited):
    """The deciding change (DESIGN §5.4) and the system's own time of each mismatch."""
    columns = ["kind", "system", "source_file", "source_row"]
    times = ["deciding_at", "system_updated_at"]

    def table(frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame[frame["kind"].isin(MISMATCH)][columns + times].copy()
        rows["source_row"] = rows["source_row"].astype("int64")
        for column in times:
            rows[column] = pd.to_datetime(rows[column], utc=True).astype("datetime64[s, UTC]")
        return rows.astype({c: object for c in columns[:3]}).sort_values(columns)

    actual = table(audited.result.findings).reset_index(drop=True)
    expected = table(audited.truth).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_metrics_equal_values_recomputed_from_truth(audited: Audited):
    metrics, expected, truth = audited.result.metrics, audited.expected, audited.truth
    counts = truth["kind"].value_counts().to_dict()
    assert audited.result.findings_by_kind == dict(sorted(counts.items()))
    overall = metrics["overall"]
    mismatches = int(truth["kind"].isin(MISMATCH).sum())
    comparisons = expected["overall"]["comparisons"]
    assert overall["comparisons"] == comparisons
    assert overall["mismatches"] == mismatches
    assert overall["mismatch_rate"] == round(mismatches / comparisons, 6)
    assert overall["person_keys"] == expected["overall"]["person_keys"]
    assert overall["expected_known"] == expected["overall"]["expected_known"]
    assert overall["coverage"] == expected["overall"]["coverage"]
    named = {
        "suppression_gaps": "suppression_gap",
        "pending_syncs": "pending_sync",
        "unverified_resubscribes": "unverified_resubscribe",
        "over_suppression": "over_suppression",
        "unconfirmed_grants": "unconfirmed_grant",
        "missing_preferences": "missing_preference",
        "identity_conflicts": "identity_conflict",
        "unmapped_values": "unmapped_value",
    }
    for metric, kind in named.items():
        assert overall[metric] == counts.get(kind, 0), metric
    for system, entry in expected["by_system"].items():
        mine = truth[(truth["system"] == system) & truth["kind"].isin(MISMATCH)]
        assert metrics["by_system"][system]["comparisons"] == entry["comparisons"], system
        assert metrics["by_system"][system]["mismatches"] == len(mine), system
        assert metrics["by_system"][system]["mismatch_rate"] == entry["mismatch_rate"], system
    for key, entry in expected["by_key"].items():
        assert metrics["by_key"][key]["person_keys"] == entry["person_keys"], key
        assert metrics["by_key"][key]["coverage"] == entry["coverage"], key


def test_identity_and_input_accounting_equal_truth(audited: Audited):
    identity, expected = audited.result.identity, audited.expected
    assert identity["persons"] == expected["persons"]
    assert identity["identity_conflicts"] == expected["identity_conflicts"]
    assert identity["ignored_values"] == expected["ignored_values"]
    inputs = audited.result.canonical.inputs.set_index("path")
    columns = ["rows_read", "rows_mapped", "rows_quarantined", "rows_ignored"]
    for entry in expected["inputs"]:
        actual = [int(v) for v in inputs.loc[entry["path"], columns]]
        assert actual == [entry[c] for c in columns], entry["path"]


def test_untimed_deciding_denial_and_a_newer_grant(tmp_path: Path):
    """DESIGN §5.3 into §6: a timed grant is newer than an untimed deciding denial, so a
    non-counting one is an unverified re-subscribe (not a gap)."""
    generate_scenario(tmp_path, persons=1_000, seed=8, drift=parse_drift("untimed_denial=0.02"))
    audited = Audited(tmp_path)
    assert (audited.truth["case"] == "untimed_denial").sum() > 0
    assert _by_row(audited.result.findings) == _by_row(audited.truth)
