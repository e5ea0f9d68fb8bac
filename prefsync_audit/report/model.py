"""The report as typed data: every figure, sentence and chart the reports show.

:func:`build_report` reads the run summary (:func:`build_summary`) and the
result's tables once; the Markdown, HTML and JUnit renderers only read the
:class:`Report` it returns. Nothing here depends on the wall clock, so the
same run renders the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from prefsync_audit.audit import AuditResult
from prefsync_audit.history import HistoryView
from prefsync_audit.mask import mask_value
from prefsync_audit.report import _format as fmt
from prefsync_audit.report._charts import (
    HBar,
    Histogram,
    heat_colour,
    horizontal_bars,
    lag_histogram,
)
from prefsync_audit.report._examples import Example as Example
from prefsync_audit.report._examples import KindSection, kind_sections
from prefsync_audit.report._examples import raw_identifiers as raw_identifiers
from prefsync_audit.report._sections import (
    METRIC_DEFINITIONS,
    policy_sentences,
    system_scopes,
    threshold_lines,
)
from prefsync_audit.report._sections import SystemScope as SystemScope
from prefsync_audit.report._sections import ThresholdLine as ThresholdLine
from prefsync_audit.report._trend import HistorySection, history_section
from prefsync_audit.report.summary import build_summary
from prefsync_audit.vocab import DEFAULT_SEVERITY, FindingKind, Severity

FailLevel = Literal["warn", "fail", "never"]
SEVERITY_ORDER = [Severity.CRITICAL.value, Severity.WARNING.value, Severity.INFO.value]


@dataclass(frozen=True)
class ReportOptions:
    """How to render: what the CLI flags say, and what the history adds."""

    reveal_identifiers: bool = False
    """Show identifiers in full (``--reveal-identifiers``); files are then owner-only."""
    fail_on: FailLevel = "fail"
    """Which threshold level fails the run (``--fail-on``); JUnit marks failures by it."""
    history: HistoryView | None = None
    """The run as recorded in ``--history``: changes since the previous run, trend."""
    top_examples: int = 5
    """Example findings shown per kind."""


@dataclass(frozen=True)
class Figure:
    label: str
    value: str


@dataclass(frozen=True)
class InputFile:
    system: str
    path: str
    sha256: str
    rows_read: int
    rows_mapped: int
    rows_quarantined: int
    rows_ignored: int

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_mapped + self.rows_quarantined + self.rows_ignored


@dataclass(frozen=True)
class MetricLine:
    name: str
    label: str
    value: str
    definition: str
    status: str | None
    """The status of this metric's overall threshold, when one is configured."""


@dataclass(frozen=True)
class SystemKeyRow:
    """One system × preference key: the counts behind the heatmap and JUnit checks."""

    system: str
    key: str
    comparisons: int
    mismatches: int
    mismatch_rate: float | None
    suppression_gaps: int
    pending_syncs: int
    unverified_resubscribes: int
    over_suppression: int
    unconfirmed_grants: int
    missing_preferences: int
    lag_p95: float | None


@dataclass(frozen=True)
class HeatCell:
    text: str
    title: str
    background: str
    colour: str


@dataclass(frozen=True)
class Heatmap:
    keys: list[str]
    rows: list[tuple[str, list[HeatCell]]]


@dataclass(frozen=True)
class LatencySystem:
    system: str
    sla: str
    count: int
    p50: str
    p95: str
    max: str
    over_sla: int
    pending: int
    overdue: int
    chart: Histogram


@dataclass(frozen=True)
class IdentitySystem:
    system: str
    records: int
    persons: int
    linked: int
    alone: int
    match_rate: str
    bar: float
    """Match rate as a percentage width for the inline bar."""


@dataclass
class Report:
    """Everything a report shows, ready to print."""

    title: str
    status: str
    as_of: str
    tool_version: str
    config_sha256: str
    revealed: bool
    headline: list[Figure]
    decided_by: list[ThresholdLine]
    thresholds: list[ThresholdLine]
    systems: list[SystemScope]
    inputs: list[InputFile]
    policy: list[str]
    metrics: list[MetricLine]
    system_keys: list[SystemKeyRow]
    heatmap: Heatmap
    latency: list[LatencySystem]
    findings_total: int
    by_severity: list[tuple[str, int]]
    kinds: list[KindSection]
    kind_bars: list[HBar]
    identity: dict[str, Any]
    identity_systems: list[IdentitySystem]
    ignored_values: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]
    unmapped: list[dict[str, Any]]
    invalid_identifiers: list[dict[str, Any]]
    history: HistorySection | None
    fail_on: FailLevel
    summary: dict[str, Any] = field(repr=False)

    def top_findings(self, limit: int = 10) -> list[tuple[KindSection, Example]]:
        """The examples of every kind, most severe kinds first."""
        kinds = sorted(self.kinds, key=lambda k: SEVERITY_ORDER.index(k.severity))
        return [(kind, example) for kind in kinds for example in kind.examples][:limit]

    @property
    def input_totals(self) -> dict[str, int]:
        return {
            name: sum(getattr(f, name) for f in self.inputs)
            for name in ("rows_read", "rows_mapped", "rows_quarantined", "rows_ignored")
        }


def build_report(result: AuditResult, options: ReportOptions | None = None) -> Report:
    """The report of ``result``, rendered with ``options``."""
    options = options or ReportOptions()
    summary = build_summary(result, options.history)
    overall = summary["metrics"]["overall"]
    thresholds = threshold_lines(summary["thresholds"], options.fail_on)
    findings = result.findings
    counts = summary["findings_by_kind"]
    return Report(
        title=summary["name"] or "prefsync-audit report",
        status=summary["status"],
        as_of=summary["as_of"],
        tool_version=summary["tool_version"],
        config_sha256=summary["config_sha256"] or "–",
        revealed=options.reveal_identifiers,
        headline=_headline(summary),
        decided_by=threshold_lines(summary["decided_by"], options.fail_on),
        thresholds=thresholds,
        systems=system_scopes(result.config),
        inputs=[InputFile(**entry) for entry in summary["inputs"]],
        policy=policy_sentences(result.config),
        metrics=_metric_lines(overall, thresholds),
        system_keys=_system_keys(summary),
        heatmap=_heatmap(summary),
        latency=_latency(result, summary),
        findings_total=len(findings),
        by_severity=[
            (s, summary["findings_by_severity"].get(s, 0))
            for s in SEVERITY_ORDER
            if s in summary["findings_by_severity"]
        ],
        kinds=kind_sections(
            result,
            options.top_examples,
            options.reveal_identifiers,
            {f.finding_id for f in options.history.changes.new} if options.history else None,
        ),
        kind_bars=horizontal_bars(
            [
                (k.value, counts[k.value], DEFAULT_SEVERITY[k].value)
                for k in FindingKind
                if counts.get(k.value)
            ]
        ),
        identity=summary["identity"],
        identity_systems=_identity_systems(summary),
        ignored_values=_ignored(result, options.reveal_identifiers),
        quarantine=summary["quarantine"]["by_reason"],
        unmapped=summary["unmapped_values"]["by_value"],
        invalid_identifiers=summary["invalid_identifiers"],
        history=history_section(options.history),
        fail_on=options.fail_on,
        summary=summary,
    )


def _headline(summary: dict[str, Any]) -> list[Figure]:
    overall = summary["metrics"]["overall"]
    return [
        Figure("persons", fmt.count(summary["persons"])),
        Figure("findings", fmt.count(summary["findings"])),
        Figure("suppression gaps", fmt.count(overall["suppression_gaps"])),
        Figure("mismatch rate", fmt.rate(overall["mismatch_rate"])),
        Figure("sync latency p95", fmt.duration(overall["sync_latency"]["p95"])),
        Figure("coverage", fmt.rate(overall["coverage"])),
        Figure("audit readiness", fmt.rate(overall["audit_readiness"])),
    ]


def _metric_lines(overall: dict[str, Any], thresholds: list[ThresholdLine]) -> list[MetricLine]:
    status = {t.metric: t.status for t in thresholds if t.scope == "overall"}
    lines = []
    for name, (label, kind, definition) in METRIC_DEFINITIONS.items():
        if name.startswith("sync_latency."):
            value: Any = overall["sync_latency"][name.split(".", 1)[1]]
            threshold = "sync_latency_p95" if name == "sync_latency.p95" else None
        else:
            value, threshold = overall.get(name), name
        text = {"rate": fmt.rate, "duration": fmt.duration, "count": fmt.count}[kind](value)
        lines.append(MetricLine(name, label, text, definition, status.get(threshold or "")))
    return lines


def _system_keys(summary: dict[str, Any]) -> list[SystemKeyRow]:
    rows = []
    for system, entry in summary["metrics"]["by_system"].items():
        for key, block in entry["by_key"].items():
            rows.append(
                SystemKeyRow(
                    system=system,
                    key=key,
                    comparisons=block["comparisons"],
                    mismatches=block["mismatches"],
                    mismatch_rate=block["mismatch_rate"],
                    suppression_gaps=block["suppression_gaps"],
                    pending_syncs=block["pending_syncs"],
                    unverified_resubscribes=block["unverified_resubscribes"],
                    over_suppression=block["over_suppression"],
                    unconfirmed_grants=block["unconfirmed_grants"],
                    missing_preferences=block["missing_preferences"],
                    lag_p95=block["sync_latency"]["p95"],
                )
            )
    return rows


def _heatmap(summary: dict[str, Any]) -> Heatmap:
    by_system = summary["metrics"]["by_system"]
    keys = sorted({key for entry in by_system.values() for key in entry["by_key"]})
    rows = []
    for system, entry in by_system.items():
        cells = []
        for key in keys:
            block = entry["by_key"].get(key)
            if block is None:
                cells.append(HeatCell("", f"{system} does not hold {key}", "#ffffff", "#999999"))
                continue
            rate = block["mismatch_rate"]
            background, colour = heat_colour(rate)
            title = (
                f"{system} · {key}: {block['mismatches']} of {block['comparisons']} "
                f"comparisons differ from the expected state"
            )
            cells.append(HeatCell(fmt.rate(rate), title, background, colour))
        rows.append((system, cells))
    return Heatmap(keys, rows)


def _latency(result: AuditResult, summary: dict[str, Any]) -> list[LatencySystem]:
    """Per system: the lags of agreeing states, binned against its SLA."""
    kinds = result.findings.groupby(["system", "kind"]).size()
    out = []
    for system in result.config.systems:
        sla = result.config.latency_sla_of(system).total_seconds()
        block = summary["metrics"]["by_system"][system]["sync_latency"]
        out.append(
            LatencySystem(
                system=system,
                sla=fmt.duration_words(sla),
                count=block["count"],
                p50=fmt.duration(block["p50"]),
                p95=fmt.duration(block["p95"]),
                max=fmt.duration(block["max"]),
                over_sla=block["over_sla"],
                pending=int(kinds.get((system, FindingKind.PENDING_SYNC.value), 0)),
                overdue=int(kinds.get((system, FindingKind.SUPPRESSION_GAP.value), 0)),
                chart=lag_histogram(result.sync_lags.get(system, np.array([])), sla),
            )
        )
    return out


def _identity_systems(summary: dict[str, Any]) -> list[IdentitySystem]:
    rows = []
    for system, entry in summary["identity"]["by_system"].items():
        rate = entry["match_rate"]
        rows.append(
            IdentitySystem(
                system=system,
                records=entry["records"],
                persons=entry["persons"],
                linked=entry["linked_records"],
                alone=entry["alone_records"],
                match_rate=fmt.rate(rate),
                bar=round(100 * (rate or 0), 1),
            )
        )
    return rows


def _ignored(result: AuditResult, reveal: bool) -> list[dict[str, Any]]:
    ignored = result.resolution.ignored_values
    rows = []
    for entry in ignored.sort_values(["kind", "value"]).itertuples():
        value = entry.value if reveal else mask_value(entry.kind, entry.value)
        rows.append(
            {"kind": entry.kind, "value": value, "records": entry.records, "reason": entry.reason}
        )
    return rows


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
