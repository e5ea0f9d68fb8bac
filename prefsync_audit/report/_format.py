"""How numbers read in the reports: rates, durations, counts, threshold levels."""

from __future__ import annotations

from prefsync_audit.thresholds import HIGHER_IS_BETTER

RATE_METRICS = {"mismatch_rate", "coverage", "audit_readiness", "sync_success_rate"}
DURATION_METRICS = {"sync_latency_p95"}


def rate(value: float | None) -> str:
    """``0.0132`` → ``1.3%``; nothing to measure → ``–``."""
    if value is None:
        return "–"
    text = f"{value:.1%}"
    # A tiny non-zero rate must not read as a clean 0.0%.
    if text == "0.0%" and value > 0:
        return "<0.1%"
    return text


def duration(seconds: float | None) -> str:
    """Seconds as the unit a person would say: ``45m``, ``5.0h``, ``12.5d``."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def duration_words(seconds: float) -> str:
    """A configured duration in words: ``72 hours``, ``30 days``, ``45 minutes``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            # 72h reads better as hours than as 3 days: SLAs are written in hours.
            if unit == "day" and seconds < 86400 * 7 and (seconds // 3600) % 24 == 0:
                count, unit = int(seconds // 3600), "hour"
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def metric_value(metric: str, value: float | None) -> str:
    """A threshold metric's value (or level) in its own unit."""
    if value is None:
        return "–"
    if metric in RATE_METRICS:
        return rate(value)
    if metric in DURATION_METRICS:
        return duration(value)
    return f"{value:g}"


def breach_words(metric: str) -> str:
    """How a level is breached: ``below`` for coverage-like metrics, else ``above``."""
    return "below" if metric in HIGHER_IS_BETTER else "above"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"
