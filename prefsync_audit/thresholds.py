"""Thresholds: turn metrics into a pass / warn / fail status.

Counts and rates (gaps, mismatch rate, latency, conflicts) breach when they
rise *above* a level; coverage, audit readiness and sync success breach when
they fall *below* it. A metric with no value (nothing to measure) never
breaches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from prefsync_audit.config import SystemThresholds, Thresholds
from prefsync_audit.vocab import Status

HIGHER_IS_BETTER = {"coverage", "audit_readiness", "sync_success_rate"}


@dataclass(frozen=True)
class ThresholdResult:
    """One threshold checked against its metric."""

    metric: str
    scope: str
    """``overall`` or ``system:NAME``."""
    value: float | None
    warn: float | None
    fail: float | None
    status: Literal["pass", "warn", "fail"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(metrics: dict[str, Any], metric: str) -> float | None:
    if metric == "sync_latency_p95":
        return metrics.get("sync_latency", {}).get("p95")
    return metrics.get(metric)


def _breaches(metric: str, value: float, level: float | None) -> bool:
    if level is None:
        return False
    return value < level if metric in HIGHER_IS_BETTER else value > level


def _check(
    levels_by_metric: SystemThresholds, metrics: dict[str, Any], scope: str
) -> list[ThresholdResult]:
    results = []
    for metric in type(levels_by_metric).model_fields:
        if metric == "per_system":
            continue
        levels = getattr(levels_by_metric, metric)
        if levels is None:
            continue
        value = _value(metrics, metric)
        status = Status.PASS
        if value is not None and _breaches(metric, value, levels.fail):
            status = Status.FAIL
        elif value is not None and _breaches(metric, value, levels.warn):
            status = Status.WARN
        results.append(
            ThresholdResult(metric, scope, value, levels.warn, levels.fail, status.value)
        )
    return results


def check_thresholds(
    thresholds: Thresholds, metrics: dict[str, Any], extra: dict[str, Any]
) -> list[ThresholdResult]:
    """Every configured threshold, overall and per system, with its status.

    ``extra`` holds overall values that live outside ``metrics['overall']``
    (quarantined rows, identity conflicts).
    """
    overall = {**metrics["overall"], **extra}
    results = _check(thresholds, overall, "overall")
    for system, levels in thresholds.per_system.items():
        results += _check(levels, metrics["by_system"].get(system, {}), f"system:{system}")
    return results


def overall_status(results: list[ThresholdResult]) -> Status:
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return Status.FAIL
    return Status.WARN if Status.WARN in statuses else Status.PASS


def deciding_thresholds(results: list[ThresholdResult]) -> list[ThresholdResult]:
    """The thresholds that set the headline status (the worst ones)."""
    status = overall_status(results)
    return [r for r in results if r.status == status and status != Status.PASS]
