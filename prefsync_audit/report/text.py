"""The terminal summary, drawn with rich from the summary data and findings."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from prefsync_audit.audit import AuditResult
from prefsync_audit.report._format import duration
from prefsync_audit.report.summary import build_summary
from prefsync_audit.vocab import Severity

STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}
TOP_FINDINGS = 10


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _show(value: object) -> str:
    return "–" if value is None or value != value or value == "" else str(value)


def _headline(summary: dict[str, Any]) -> RenderableType:
    status = summary["status"]
    text = Text.assemble(("Status: ", "bold"), (status.upper(), STATUS_STYLE[status]))
    overall = summary["metrics"]["overall"]
    text.append(
        f"   persons {summary['persons']}  ·  mismatch rate {_rate(overall['mismatch_rate'])}"
        f"  ·  suppression gaps {overall['suppression_gaps']}"
        f"  ·  coverage {_rate(overall['coverage'])}"
        f"  ·  audit readiness {_rate(overall['audit_readiness'])}"
    )
    lines = [text]
    for threshold in summary["decided_by"]:
        level = threshold[threshold["status"]]
        lines.append(
            Text(
                f"  decided by {threshold['metric']} ({threshold['scope']}) = "
                f"{threshold['value']} against {threshold['status']} level {level}",
                style=STATUS_STYLE[threshold["status"]],
            )
        )
    title = summary["name"] or "prefsync-audit"
    return Panel(Group(*lines), title=f"{title} · as of {summary['as_of']}", expand=False)


def _systems_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Systems × preference keys", title_justify="left")
    for column in (
        "system",
        "key",
        "compared",
        "mismatch",
        "gaps",
        "pending",
        "re-sub",
        "over-supp.",
        "missing",
        "lag p95",
    ):
        table.add_column(
            column,
            justify="left" if column in ("system", "key") else "right",
            no_wrap=column == "key",
        )
    for system, entry in summary["metrics"]["by_system"].items():
        for key, row in entry["by_key"].items():
            gaps = row["suppression_gaps"]
            table.add_row(
                system,
                key,
                str(row["comparisons"]),
                _rate(row["mismatch_rate"]),
                Text(str(gaps), style="bold red" if gaps else ""),
                str(row["pending_syncs"]),
                str(row["unverified_resubscribes"]),
                str(row["over_suppression"]),
                str(row["missing_preferences"]),
                duration(row["sync_latency"]["p95"]),
            )
    return table


def _findings_table(result: AuditResult) -> Table:
    table = Table(title=f"Top findings (of {len(result.findings)})", title_justify="left")
    for column in ("severity", "kind", "system", "key", "expected", "actual", "identifiers"):
        table.add_column(column)
    order = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings = result.findings.assign(_rank=result.findings["severity"].map(order))
    top = findings.sort_values("_rank", kind="stable").head(TOP_FINDINGS)
    for row in top.itertuples():
        key = (
            "/".join(str(p) for p in (row.purpose, row.channel, row.scope))
            if isinstance(row.purpose, str)
            else (row.detail or "–")
        )
        table.add_row(
            row.severity,
            row.kind,
            _show(row.system),
            key,
            _show(row.expected_state),
            _show(row.actual_state),
            # The first identifier is enough to recognise a person on a terminal.
            _show(row.identifiers).split(" ")[0],
        )
    return table


def _inputs_line(summary: dict[str, Any]) -> Text:
    inputs = summary["inputs"]
    read = sum(i["rows_read"] for i in inputs)
    mapped = sum(i["rows_mapped"] for i in inputs)
    ignored = sum(i["rows_ignored"] for i in inputs)
    text = Text(
        f"Inputs: {len(inputs)} files or tables, {read} rows read, {mapped} mapped, "
        f"{summary['quarantine']['rows']} quarantined, {ignored} ignored; "
        f"{summary['unmapped_values']['rows']} unmapped values"
    )
    return text


def _counts_line(summary: dict[str, Any]) -> Text:
    parts = [f"{kind} {count}" for kind, count in summary["findings_by_kind"].items()]
    return Text("Findings: " + (", ".join(parts) if parts else "none"))


def renderables(result: AuditResult) -> list[RenderableType]:
    summary = build_summary(result)
    items: list[RenderableType] = [
        _headline(summary),
        _counts_line(summary),
        _inputs_line(summary),
        _systems_table(summary),
    ]
    for reason in summary["quarantine"]["by_reason"]:
        items.append(
            Text(
                f"  quarantined in {reason['system']}: {reason['rows']} × {reason['reason']}",
                style="yellow",
            )
        )
    for value in summary["unmapped_values"]["by_value"]:
        items.append(
            Text(
                f"  unmapped in {value['system']}.{value['column']}: "
                f"{value['value']!r} × {value['rows']}",
                style="yellow",
            )
        )
    if len(result.findings):
        items.append(_findings_table(result))
    return items


def render_text(result: AuditResult, width: int = 110) -> str:
    """The terminal summary as plain text (no colour), for files and tests."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    for item in renderables(result):
        console.print(item)
    return buffer.getvalue()
