"""Chart geometry for the HTML report, computed here so templates only place shapes.

Every chart is inline SVG drawn from these numbers: no script, no fonts or
images fetched, so the report opens offline and prints as it shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Latency bins (seconds): a log-like scale, since lags range from seconds to months.
LAG_EDGES = (0, 60, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400, math.inf)
LAG_LABELS = ("<1m", "1m–1h", "1–6h", "6–24h", "1–3d", "3–7d", "7–30d", ">30d")

CHART_WIDTH = 480
CHART_HEIGHT = 120
PLOT_TOP = 14
PLOT_BOTTOM = 96


@dataclass(frozen=True)
class Bar:
    """One bar: position and size in SVG units, with what it stands for."""

    x: float
    y: float
    width: float
    height: float
    count: int
    label: str
    tone: str
    """``ok``, ``edge`` (straddles the SLA) or ``late`` — a CSS class."""


@dataclass(frozen=True)
class Histogram:
    bars: list[Bar]
    sla_x: float | None
    """Where the SLA line goes; None when there is no lag to draw."""
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    baseline: int = PLOT_BOTTOM


def lag_histogram(lags: np.ndarray, sla_seconds: float) -> Histogram:
    """Counts of lags per bin, bars coloured by where the bin sits against the SLA."""
    counts: Any = (
        np.histogram(lags, bins=np.array(LAG_EDGES, dtype="float64"))[0] if len(lags) else []
    )
    slot = CHART_WIDTH / len(LAG_LABELS)
    tallest = max([int(c) for c in counts] + [1])
    bars = []
    for i, label in enumerate(LAG_LABELS):
        value = int(counts[i]) if len(counts) else 0
        height = (PLOT_BOTTOM - PLOT_TOP) * value / tallest
        low, high = LAG_EDGES[i], LAG_EDGES[i + 1]
        tone = "ok" if high <= sla_seconds else ("late" if low >= sla_seconds else "edge")
        bars.append(
            Bar(
                x=round(i * slot + 4, 1),
                y=round(PLOT_BOTTOM - height, 1),
                width=round(slot - 8, 1),
                height=round(height, 1),
                count=value,
                label=label,
                tone=tone,
            )
        )
    return Histogram(bars=bars, sla_x=round(_sla_position(sla_seconds) * slot, 1))


def _sla_position(sla: float) -> float:
    """The SLA on the bin axis: bin index plus the log-fraction within the bin."""
    for i in range(len(LAG_LABELS)):
        low, high = LAG_EDGES[i], LAG_EDGES[i + 1]
        if low <= sla < high:
            if low == 0:
                return i + sla / high
            if math.isinf(high):
                return i + 0.5
            return i + math.log(sla / low) / math.log(high / low)
    return float(len(LAG_LABELS))


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    """Shown on hover (an SVG ``<title>``) and in the table below the chart."""


@dataclass(frozen=True)
class TrendChart:
    """A small line chart of one headline metric over runs."""

    title: str
    points: list[Point]
    polyline: str
    low: str
    high: str
    width: int = 260
    height: int = 90
    left: int = 44
    """Plot area starts here; the axis labels sit in the gutter before it."""


def trend_chart(
    title: str, values: list[float | None], labels: list[str], fmt: Callable[[float], str]
) -> TrendChart:
    """Points evenly spaced by run; the y axis from 0 (or the lowest value) to the highest."""
    width, height, pad, left = 260, 90, 10, 44
    known = [v for v in values if v is not None]
    top = max(known) if known else 1.0
    bottom = min(0.0, min(known)) if known else 0.0
    span = (top - bottom) or 1.0
    step = (width - left - pad) / max(len(values) - 1, 1)
    points = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        if value is None:
            continue
        x = left + i * step if len(values) > 1 else (left + width - pad) / 2
        y = height - pad - (height - 2 * pad) * (value - bottom) / span
        points.append(Point(round(x, 1), round(y, 1), f"{label}: {fmt(value)}"))
    polyline = " ".join(f"{p.x},{p.y}" for p in points)
    return TrendChart(title, points, polyline, fmt(bottom), fmt(top))


@dataclass(frozen=True)
class HBar:
    """A horizontal bar (findings per kind)."""

    label: str
    count: int
    width: float
    y: float
    tone: str


def horizontal_bars(rows: list[tuple[str, int, str]], width: int = 300) -> list[HBar]:
    """``(label, count, tone)`` rows → bars scaled to the largest count."""
    largest = max([c for _, c, _ in rows] + [1])
    return [
        HBar(label, value, round(width * value / largest, 1), i * 22, tone)
        for i, (label, value, tone) in enumerate(rows)
    ]


def heat_colour(rate: float | None) -> tuple[str, str]:
    """Background and text colour of a heatmap cell for a mismatch rate.

    Green at 0, then from pale orange to deep red, saturating at 10 %
    (a square-root scale, so 0.5 % is already visibly not clean).
    """
    if rate is None:
        return "#eeeeee", "#555555"
    if rate == 0:
        return "#d8f0dc", "#1b4d24"
    strength = min(1.0, math.sqrt(rate / 0.10))
    low, high = (255, 224, 178), (183, 28, 28)
    rgb = [round(a + (b - a) * strength) for a, b in zip(low, high, strict=True)]
    text = "#ffffff" if strength > 0.55 else "#3e1a00"
    return "#{:02x}{:02x}{:02x}".format(*rgb), text
