"""The vectorized metrics equal a straightforward pandas computation, value for value.

The reference below filters and groups with pandas one scope at a time (as the
metrics stage once did); random frames exercise missing values, systems outside
the config, keys with a missing part and findings without a system state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from prefsync_audit import _codes, metrics
from prefsync_audit._model import key_text
from prefsync_audit.config import AuditConfig, load_config
from prefsync_audit.metrics import (
    KIND_COUNTS,
    compute_metrics,
    identity_metrics,
    lag_seconds,
)
from prefsync_audit.policy import GROUP, KEY, authority_of_keys
from prefsync_audit.vocab import FindingKind, State

MINI = Path(__file__).parent / "fixtures" / "mini" / "audit.yaml"
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
KNOWN = [State.GRANTED, State.DENIED]


# --- reference ----------------------------------------------------------------


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _latency(lags: pd.Series, sla: pd.Series) -> dict[str, Any]:
    lags = lags.dropna()
    if lags.empty:
        return {"count": 0, "p50": None, "p95": None, "max": None, "over_sla": 0}
    return {
        "count": len(lags),
        "p50": round(float(np.percentile(lags, 50)), 3),
        "p95": round(float(np.percentile(lags, 95)), 3),
        "max": round(float(lags.max()), 3),
        "over_sla": int((lags > sla[lags.index]).sum()),
    }


def _counts(rows: pd.DataFrame) -> dict[str, Any]:
    both_known = rows["actual_state"].isin(KNOWN) & rows["expected_state"].isin(KNOWN)
    compared = rows[both_known]
    mismatches = int((compared["actual_state"] != compared["expected_state"]).sum())
    counts: dict[str, Any] = {
        "persons_compared": int(compared["person_id"].nunique()) if len(compared) else 0,
        "comparisons": len(compared),
        "mismatches": mismatches,
        "mismatch_rate": _rate(mismatches, len(compared)),
    }
    for name, kind in KIND_COUNTS.items():
        counts[name] = int((rows["kind"] == kind).sum())
    counts["sync_latency"] = _latency(rows["lag"], rows["sla_seconds"])
    return counts


def _coverage(expected: pd.DataFrame) -> dict[str, Any]:
    known = int((expected["expected_state"] != State.UNKNOWN).sum())
    return {
        "person_keys": len(expected),
        "expected_known": known,
        "expected_denied": int((expected["expected_state"] == State.DENIED).sum()),
        "coverage": _rate(known, len(expected)),
    }


def _readiness(observations: pd.DataFrame, config: AuditConfig, only_authority: bool) -> Any:
    rows = observations[observations["state"].isin(KNOWN)]
    if only_authority and config.policy.authorities:
        authority = authority_of_keys(rows, config)
        rows = rows[rows["system"].astype("object").to_numpy() == authority.to_numpy()]
    if rows.empty:
        return None
    present = [
        rows[c].astype("string").str.strip().fillna("").ne("") for c in ("capture_source", "proof")
    ]
    return _rate(int((rows["updated_at"].notna() & present[0] & present[1]).sum()), len(rows))


def _reference(
    compared: pd.DataFrame,
    expected: pd.DataFrame,
    findings: pd.DataFrame,
    observations: pd.DataFrame,
    config: AuditConfig,
) -> dict[str, Any]:
    missing = findings[findings["kind"] == FindingKind.MISSING_PREFERENCE]
    rows = pd.concat(
        [compared.copy(), missing[[*GROUP, "system", "kind", "expected_state"]]],
        ignore_index=True,
    )
    rows["system"] = rows["system"].astype("object")
    agree = (rows["actual_state"] == rows["expected_state"]) & rows["actual_state"].isin(KNOWN)
    lag = (rows["system_updated_at"] - rows["deciding_at"]).dt.total_seconds().clip(lower=0)
    rows["lag"] = lag.where(agree)
    rows["sla_seconds"] = rows["system"].map(
        {s: config.latency_sla_of(s).total_seconds() for s in config.systems}
    )
    overall = _counts(rows)
    overall.update(_coverage(expected))
    start = pd.Timestamp(AS_OF) - config.policy.sync_window
    recent = expected[
        (expected["deciding_at"] >= start) & (expected["deciding_at"] <= pd.Timestamp(AS_OF))
    ]
    if recent.empty:
        overall["sync_success_rate"] = None
    else:
        held = rows[
            rows["actual_state"].isin(KNOWN) | (rows["kind"] == FindingKind.MISSING_PREFERENCE)
        ].merge(recent[GROUP], on=GROUP)
        failed = held[held["actual_state"] != held["expected_state"]][GROUP].drop_duplicates()
        overall["sync_success_rate"] = _rate(len(recent) - len(failed), len(recent))
    overall["audit_readiness"] = _readiness(observations, config, True)
    conflicted = findings.loc[findings["kind"] == FindingKind.IDENTITY_CONFLICT, "person_id"]
    overall["identity_conflicts"] = int(conflicted.nunique())
    overall["unmapped_values"] = int((findings["kind"] == FindingKind.UNMAPPED_VALUE).sum())
    by_system = {}
    for system in config.systems:
        system_rows = rows[rows["system"] == system]
        entry = _counts(system_rows)
        entry["audit_readiness"] = _readiness(
            observations[observations["system"].astype("object") == system], config, False
        )
        entry["by_key"] = {
            key_text(key): _counts(group) for key, group in system_rows.groupby(KEY, sort=True)
        }
        by_system[system] = entry
    by_key = {key_text(key): _coverage(g) for key, g in expected.groupby(KEY, sort=True)}
    return {"overall": overall, "by_system": by_system, "by_key": by_key}


# --- random frames -------------------------------------------------------------

PURPOSES = ["marketing", "analytics", "advertising", None]
CHANNELS = ["email", "sms", "*", "web"]
STATES = ["granted", "denied", "unknown", None]
KINDS = [*(kind.value for kind in FindingKind), None]


def _times(rng: np.random.Generator, n: int, missing: float) -> pd.Series:
    """Times within 90 days before AS_OF, with sub-second parts (whole seconds hide
    rounding differences in lags)."""
    nanoseconds = rng.integers(0, 90 * 86400 * 10**9, n)
    nanoseconds[rng.random(n) < 0.3] //= 10**9  # some whole seconds too
    times = pd.Series(pd.Timestamp(AS_OF) - pd.to_timedelta(nanoseconds, unit="ns"))
    return times.where(rng.random(n) > missing)


def _pick(rng: np.random.Generator, values: list[Any], n: int, p: list[float] | None = None):
    return np.array(values, dtype=object)[rng.choice(len(values), n, p=p)]


def _frames(seed: int, n: int, systems: list[str]) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    persons = max(n // 4, 1)
    all_systems = [*systems, "elsewhere"]

    def key_columns(count: int) -> dict[str, Any]:
        return {
            "person_id": rng.integers(0, persons, count),
            "purpose": _pick(rng, PURPOSES, count, [0.5, 0.2, 0.25, 0.05]),
            "channel": _pick(rng, CHANNELS, count),
            "scope": _pick(rng, ["*", "eu"], count, [0.9, 0.1]),
        }

    compared = pd.DataFrame(key_columns(n))
    compared["system"] = pd.Categorical(_pick(rng, all_systems, n))
    compared["actual_state"] = _pick(rng, STATES, n, [0.4, 0.3, 0.2, 0.1])
    compared["system_updated_at"] = _times(rng, n, 0.2)
    compared["expected_state"] = _pick(rng, STATES, n, [0.4, 0.3, 0.2, 0.1])
    compared["deciding_at"] = _times(rng, n, 0.2)
    compared["kind"] = pd.Series(_pick(rng, KINDS, n, [0.05] * 8 + [0.6]), dtype="str")
    # Agreeing rows are most rows in a real run: make sure there are lags, many
    # of them short (seconds with a fraction: where float rounding shows).
    agreeing = rng.random(n) < 0.5
    compared.loc[agreeing, "actual_state"] = compared.loc[agreeing, "expected_state"]
    short = rng.random(n) < 0.3
    compared.loc[short, "system_updated_at"] = compared.loc[short, "deciding_at"] + pd.to_timedelta(
        rng.integers(0, 5000, int(short.sum())), unit="ms"
    )

    expected = pd.DataFrame(key_columns(n)).drop_duplicates(GROUP, ignore_index=True)
    expected["expected_state"] = _pick(rng, STATES, len(expected), [0.4, 0.3, 0.2, 0.1])
    expected["deciding_at"] = _times(rng, len(expected), 0.3)

    count = max(n // 5, 1)
    findings = pd.DataFrame(key_columns(count))
    findings["person_id"] = findings["person_id"].astype("Int64")
    findings["kind"] = pd.Series(_pick(rng, KINDS[:-1], count), dtype="str")
    findings["system"] = _pick(rng, [*all_systems, None], count)
    findings["expected_state"] = _pick(rng, STATES, count)
    findings["actual_state"] = None

    observed = 2 * n
    observations = pd.DataFrame(
        {
            "system": pd.Categorical(_pick(rng, all_systems, observed)),
            "purpose": pd.Categorical(_pick(rng, PURPOSES[:-1], observed)),
            "channel": pd.Categorical(_pick(rng, CHANNELS, observed)),
            "scope": pd.Categorical(_pick(rng, ["*"], observed)),
            "state": pd.Categorical(_pick(rng, STATES[:-1], observed)),
            "updated_at": _times(rng, observed, 0.1),
            "capture_source": _pick(rng, ["Web", " Web ", "", "  ", None, "POS"], observed),
            "proof": _pick(rng, [None, "", " \t"], observed, [0.6, 0.2, 0.2]),
            "person_id": rng.integers(0, persons, observed),
        }
    )
    ids = rng.random(observed) < 0.5
    observations.loc[ids, "proof"] = [f"receipt-{i} " for i in range(int(ids.sum()))]
    return {
        "compared": compared,
        "expected": expected,
        "findings": findings,
        "observations": observations,
    }


@pytest.fixture(scope="module")
def config() -> AuditConfig:
    return load_config(MINI)


def _configs(config: AuditConfig) -> list[AuditConfig]:
    """The mini config, one with a per-system SLA and a wide window, one without authorities."""
    esp = config.systems["esp"].model_copy(update={"latency_sla": timedelta(hours=1)})
    wide = config.model_copy(
        update={
            "systems": {**config.systems, "esp": esp},
            "policy": config.policy.model_copy(update={"sync_window": timedelta(days=60)}),
        }
    )
    none = config.model_copy(
        update={"policy": config.policy.model_copy(update={"authorities": []})}
    )
    return [config, wide, none]


def _computed(
    frames: dict[str, pd.DataFrame], config: AuditConfig, workers: int = 1
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return compute_metrics(
        frames["compared"],
        frames["expected"],
        frames["findings"],
        frames["observations"],
        pd.DataFrame(),
        pd.Series(dtype="int64"),
        config,
        AS_OF,
        workers,
    )


def _run(frames: dict[str, pd.DataFrame], config: AuditConfig) -> dict[str, Any]:
    return _computed(frames, config)[0]


@pytest.mark.parametrize(("seed", "rows"), [(1, 400), (2, 3000), (3, 7), (4, 1)])
def test_metrics_equal_a_pandas_reference(config, seed, rows):
    for variant in _configs(config):
        frames = _frames(seed, rows, list(variant.systems))
        expected = _reference(**frames, config=variant)
        assert json.dumps(_run(frames, variant)) == json.dumps(expected)


@pytest.mark.parametrize("workers", [2, 3])
def test_metrics_are_the_same_on_several_workers(config, workers):
    # The comparisons' rows beside the observations' metrics, then the distinct
    # persons beside the latency blocks: the document, its keys' order included,
    # and the lags are those of one worker.
    for variant in _configs(config):
        frames = _frames(2, 3000, list(variant.systems))
        alone, alone_lags = _computed(frames, variant)
        metrics, lags = _computed(frames, variant, workers)
        assert json.dumps(metrics) == json.dumps(alone)
        assert metrics["overall"]["audit_readiness"] is not None
        assert list(lags) == list(alone_lags)
        for system, system_lags in lags.items():
            np.testing.assert_array_equal(system_lags, alone_lags[system])


def test_sync_lags_are_those_sync_latency_summarises(config):
    # The report draws its lag histograms from them: per system, every agreeing
    # comparison's lag, as the pandas reference computes it.
    frames = _frames(2, 3000, list(config.systems))
    metrics, sync_lags = _computed(frames, config)
    compared = frames["compared"]
    agree = (compared["actual_state"] == compared["expected_state"]) & compared[
        "actual_state"
    ].isin(KNOWN)
    lag = (compared["system_updated_at"] - compared["deciding_at"]).dt.total_seconds()
    lag = lag.clip(lower=0).where(agree).dropna()
    system = compared["system"].astype("object")[lag.index]
    assert list(sync_lags) == list(config.systems)
    assert sum(len(lags) for lags in sync_lags.values()) > 100
    for name, lags in sync_lags.items():
        np.testing.assert_array_equal(lags, lag[system == name].to_numpy())
        assert len(lags) == metrics["by_system"][name]["sync_latency"]["count"]


def test_fallback_paths_give_the_same_metrics(config, monkeypatch):
    """Hashing instead of flag tables, small blocks, no sampling shortcut: same values."""
    frames = _frames(5, 2000, list(config.systems))
    expected = json.dumps(_reference(**frames, config=config))
    monkeypatch.setattr(metrics, "DENSE_LIMIT", 0)
    monkeypatch.setattr(metrics, "DENSE_BYTES_PER_ROW", 0)
    monkeypatch.setattr(_codes, "BLOCK", 97)
    monkeypatch.setattr(_codes, "SAMPLE", 1)
    assert json.dumps(_run(frames, config)) == expected


def test_empty_inputs(config):
    frames = _frames(6, 50, list(config.systems))
    empty = {name: frame.iloc[:0] for name, frame in frames.items()}
    assert json.dumps(_run(empty, config)) == json.dumps(_reference(**empty, config=config))


def test_lag_seconds_matches_pandas_across_time_units():
    rng = np.random.default_rng(7)
    rows = rng.choice(500, 300)
    for later_unit, earlier_unit in [("ns", "ns"), ("us", "us"), ("ns", "s")]:
        later = _times(rng, 500, 0.2)
        # Short lags (seconds with a fraction) too: there float rounding shows.
        later[:250] = later[250:].reset_index(drop=True) + pd.to_timedelta(
            rng.integers(0, 5000, 250), "ms"
        )
        later = later.astype(f"datetime64[{later_unit}, UTC]")
        earlier = _times(rng, 500, 0.2).astype(f"datetime64[{earlier_unit}, UTC]")
        taken = [later.iloc[rows], earlier.iloc[rows]]
        reference = taken[0].reset_index(drop=True) - taken[1].reset_index(drop=True)
        np.testing.assert_array_equal(
            lag_seconds(later, rows, earlier, rows),
            reference.dt.total_seconds().clip(lower=0).to_numpy(),
        )


def test_identity_metrics_equal_a_pandas_reference():
    rng = np.random.default_rng(9)
    n = 3000
    records = pd.DataFrame(
        {"system": pd.Categorical(_pick(rng, ["crm", "esp", "ads", "other", None], n))}
    )
    person_of_record = pd.Series(rng.integers(0, 900, n) * 1_000_003)
    systems = ["crm", "esp", "ads", "absent"]
    conflicts = pd.DataFrame({"person_id": [1, 1, 2]})
    ignored = pd.DataFrame({"value": ["x"]})
    frame = pd.DataFrame(
        {
            "person_id": person_of_record.to_numpy(),
            "system": records["system"].astype("object").to_numpy(),
        }
    )
    frame["linked"] = (
        frame["person_id"].map(frame.groupby("person_id")["system"].nunique()).to_numpy() > 1
    )
    by_system = {}
    for system in systems:
        rows = frame[frame["system"] == system]
        linked = int(rows["linked"].sum())
        by_system[system] = {
            "records": len(rows),
            "persons": int(rows["person_id"].nunique()),
            "linked_records": linked,
            "alone_records": len(rows) - linked,
            "match_rate": _rate(linked, len(rows)),
        }
    reference = {
        "persons": int(frame["person_id"].nunique()),
        "records": n,
        "identity_conflicts": 2,
        "ignored_values": 1,
        "by_system": by_system,
    }
    got = identity_metrics(records, person_of_record, conflicts, ignored, systems)
    assert json.dumps(got) == json.dumps(reference)
