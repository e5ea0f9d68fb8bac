"""The history as the reports show it: changes since the previous run, the trend."""

from __future__ import annotations

from dataclasses import dataclass

from prefsync_audit.history import HistoryView
from prefsync_audit.report import _format as fmt
from prefsync_audit.report._charts import TrendChart, trend_chart


@dataclass(frozen=True)
class HistorySection:
    run_id: int
    previous_run_id: int | None
    previous_as_of: str | None
    new: int
    persisting: int
    resolved: int
    resolved_examples: list[tuple[str, str, str, str]]
    """(kind, system, key, finding_id) of findings gone since the previous run."""
    charts: list[TrendChart]
    runs: list[dict[str, str]]


def history_section(view: HistoryView | None) -> HistorySection | None:
    if view is None:
        return None
    changes = view.changes
    labels = [f"#{run.run_id} {run.as_of}" for run in view.trend]
    charts = [
        trend_chart(
            "suppression gaps",
            [run.headline.get("suppression_gaps") for run in view.trend],
            labels,
            lambda v: f"{v:g}",
        ),
        trend_chart(
            "findings",
            [float(run.findings_total) for run in view.trend],
            labels,
            lambda v: f"{v:g}",
        ),
        trend_chart(
            "mismatch rate",
            [run.headline.get("mismatch_rate") for run in view.trend],
            labels,
            fmt.rate,
        ),
        trend_chart(
            "coverage", [run.headline.get("coverage") for run in view.trend], labels, fmt.rate
        ),
        trend_chart(
            "audit readiness",
            [run.headline.get("audit_readiness") for run in view.trend],
            labels,
            fmt.rate,
        ),
    ]
    runs = [
        {
            "run": f"#{run.run_id}",
            "as_of": run.as_of,
            "status": run.status,
            "findings": fmt.count(run.findings_total),
            "suppression_gaps": fmt.metric_value(
                "suppression_gaps", run.headline.get("suppression_gaps")
            ),
            "mismatch_rate": fmt.rate(run.headline.get("mismatch_rate")),
            "new": fmt.count(run.new),
            "resolved": fmt.count(run.resolved),
        }
        for run in view.trend
    ]
    return HistorySection(
        run_id=view.run_id,
        previous_run_id=changes.previous_run_id,
        previous_as_of=changes.previous_as_of,
        new=len(changes.new),
        persisting=len(changes.persisting),
        resolved=len(changes.resolved),
        resolved_examples=[(f.kind, f.system, f.key, f.finding_id) for f in changes.resolved[:20]],
        charts=charts,
        runs=runs,
    )
