"""Metrics of the mini scenario, each recomputed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefsync_audit import run_audit

MINI = Path(__file__).parent / "fixtures" / "mini" / "audit.yaml"


@pytest.fixture(scope="module")
def metrics():
    return run_audit(MINI).metrics


def test_overall_mismatch_rate(metrics):
    overall = metrics["overall"]
    # cmp agrees 3/3; esp: a gap, c pending, b over-suppressed (3 of 3 compared);
    # ads: marketing/*/* agrees, marketing/email/* gap → 4 mismatches of 8.
    assert overall["comparisons"] == 8
    assert overall["mismatches"] == 4
    assert overall["mismatch_rate"] == 0.5


def test_coverage_and_readiness(metrics):
    overall = metrics["overall"]
    # Persons × keys: 6 persons on marketing/email/* + person a on marketing/*/*.
    assert overall["person_keys"] == 7
    assert overall["expected_known"] == 4
    assert overall["coverage"] == round(4 / 7, 6)
    # CMP rows carry time and source but no proof: none is audit-ready.
    assert overall["audit_readiness"] == 0.0


def test_sync_latency_counts_agreeing_timed_rows(metrics):
    cmp = metrics["by_system"]["cmp"]
    assert cmp["sync_latency"]["count"] == 3
    assert cmp["sync_latency"]["p95"] == 0.0
    assert metrics["by_system"]["esp"]["sync_latency"]["count"] == 0


def test_sync_success_rate(metrics):
    # Deciding changes in the 30 days before as_of: person c's denial (2026-02-28),
    # which esp has not applied.
    assert metrics["overall"]["sync_success_rate"] == 0.0


def test_per_key_table(metrics):
    esp = metrics["by_system"]["esp"]["by_key"]["marketing/email/*"]
    assert esp["suppression_gaps"] == 1
    assert esp["pending_syncs"] == 1
    assert esp["over_suppression"] == 1
    assert esp["missing_preferences"] == 1
