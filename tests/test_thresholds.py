"""prefsync_audit.thresholds: metrics → pass / warn / fail."""

from __future__ import annotations

import pytest

from prefsync_audit.config import Thresholds
from prefsync_audit.thresholds import (
    ThresholdResult,
    check_thresholds,
    deciding_thresholds,
    overall_status,
)
from prefsync_audit.vocab import Status


def check(thresholds, overall, by_system=None, extra=None):
    metrics = {"overall": overall, "by_system": by_system or {}}
    return check_thresholds(Thresholds.model_validate(thresholds), metrics, extra or {})


def status_of(metric, levels, value):
    (result,) = check({metric: levels}, {metric: value})
    return result.status


@pytest.mark.parametrize(
    ("value", "status"),
    [(0, "pass"), (1, "pass"), (2, "warn"), (5, "warn"), (6, "fail"), (100, "fail")],
)
def test_counts_breach_above_the_level(value, status):
    assert status_of("suppression_gaps", {"warn": 1, "fail": 5}, value) == status


@pytest.mark.parametrize(
    ("value", "status"),
    [(1.0, "pass"), (0.95, "pass"), (0.94, "warn"), (0.8, "warn"), (0.79, "fail"), (0.0, "fail")],
)
def test_coverage_breaches_below_the_level(value, status):
    assert status_of("coverage", {"warn": 0.95, "fail": 0.8}, value) == status


@pytest.mark.parametrize("metric", ["coverage", "audit_readiness", "sync_success_rate"])
def test_higher_is_better_metrics(metric):
    assert status_of(metric, {"fail": 0.9}, 0.89) == "fail"
    assert status_of(metric, {"fail": 0.9}, 0.91) == "pass"


@pytest.mark.parametrize(
    "metric",
    [
        "mismatch_rate",
        "quarantined_rows",
        "unmapped_values",
        "over_suppression",
        "unverified_resubscribes",
    ],
)
def test_lower_is_better_metrics(metric):
    assert status_of(metric, {"fail": 0.5}, 0.51) == "fail"
    assert status_of(metric, {"fail": 0.5}, 0.49) == "pass"


def test_fail_beats_warn():
    # A value past both levels is a failure, not a warning.
    assert status_of("mismatch_rate", {"warn": 0.01, "fail": 0.05}, 0.2) == "fail"
    assert status_of("coverage", {"warn": 0.99, "fail": 0.9}, 0.5) == "fail"


def test_only_one_level_set():
    assert status_of("suppression_gaps", {"fail": 0}, 1) == "fail"
    assert status_of("suppression_gaps", {"warn": 0}, 1) == "warn"
    assert status_of("suppression_gaps", {}, 1000) == "pass"


@pytest.mark.parametrize("metric", ["suppression_gaps", "coverage", "sync_latency_p95"])
def test_no_value_never_breaches(metric):
    results = check({metric: {"warn": 0, "fail": 0}}, {metric: None, "sync_latency": {}})
    assert [(r.metric, r.value, r.status) for r in results] == [(metric, None, "pass")]


def test_missing_metric_never_breaches():
    results = check({"identity_conflicts": {"fail": 0}}, {})
    assert [(r.value, r.status) for r in results] == [(None, "pass")]


def test_sync_latency_p95_reads_the_latency_summary_and_durations():
    results = check(
        {"sync_latency_p95": {"warn": "24h", "fail": "3d"}},
        {"sync_latency": {"p50": 10.0, "p95": 90000.0, "max": 1e9}},
    )
    assert [(r.metric, r.value, r.warn, r.fail, r.status) for r in results] == [
        ("sync_latency_p95", 90000.0, 86400.0, 259200.0, "warn")
    ]


def test_extra_values_join_the_overall_metrics():
    results = check({"quarantined_rows": {"fail": 10}}, {}, extra={"quarantined_rows": 11})
    assert [(r.value, r.status) for r in results] == [(11, "fail")]


def test_only_configured_metrics_are_checked():
    results = check({"coverage": {"warn": 0.9}}, {"coverage": 0.5, "suppression_gaps": 99})
    assert [r.metric for r in results] == ["coverage"]


def test_per_system_scope():
    thresholds = {
        "suppression_gaps": {"fail": 10},
        "per_system": {
            "esp": {"suppression_gaps": {"fail": 0}},
            "ads": {"audit_readiness": {"warn": 0.5}},
        },
    }
    results = check(
        thresholds,
        {"suppression_gaps": 3},
        by_system={
            "esp": {"suppression_gaps": 3},
            "crm": {"suppression_gaps": 50},
            "ads": {"audit_readiness": 0.4},
        },
    )
    assert [(r.metric, r.scope, r.value, r.status) for r in results] == [
        ("suppression_gaps", "overall", 3, "pass"),
        ("suppression_gaps", "system:esp", 3, "fail"),
        ("audit_readiness", "system:ads", 0.4, "warn"),
    ]


def test_per_system_rejects_metrics_a_system_does_not_have():
    from pydantic import ValidationError

    from prefsync_audit.config import Thresholds

    with pytest.raises(ValidationError, match="coverage"):
        Thresholds.model_validate({"per_system": {"ads": {"coverage": {"warn": 0.5}}}})


def test_per_system_without_metrics_passes():
    results = check({"per_system": {"esp": {"suppression_gaps": {"fail": 0}}}}, {})
    assert [(r.scope, r.value, r.status) for r in results] == [("system:esp", None, "pass")]


def result(status, metric="coverage"):
    return ThresholdResult(metric, "overall", 1.0, None, None, status)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.PASS),
        (["pass", "pass"], Status.PASS),
        (["pass", "warn"], Status.WARN),
        (["warn", "fail", "pass"], Status.FAIL),
    ],
)
def test_overall_status(statuses, expected):
    assert overall_status([result(s) for s in statuses]) == expected


def test_deciding_thresholds_are_the_worst():
    results = [
        result("warn", "coverage"),
        result("fail", "suppression_gaps"),
        result("fail", "mismatch_rate"),
        result("pass", "audit_readiness"),
    ]
    assert [r.metric for r in deciding_thresholds(results)] == ["suppression_gaps", "mismatch_rate"]
    assert deciding_thresholds([result("pass")]) == []


def test_result_to_dict():
    assert result("warn").to_dict() == {
        "metric": "coverage",
        "scope": "overall",
        "value": 1.0,
        "warn": None,
        "fail": None,
        "status": "warn",
    }
