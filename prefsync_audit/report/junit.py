"""The JUnit XML report (``junit.xml``, ``--format junit``) for CI test views.

Two suites: one test case per configured threshold, and one per system ×
preference key. The failed cases are exactly what made the run exit 1:

- a threshold case fails when its status reaches the ``--fail-on`` level;
- a system × key case fails when it contributes to such a threshold: it has
  suppression gaps (unverified re-subscribes, over-suppressions) while that
  count's threshold fails, or its own mismatch rate or latency p95 is beyond
  the level a failing ``mismatch_rate`` or ``sync_latency_p95`` threshold
  breached. Per-system thresholds only involve that system's cases.

So a run that passes has no failed case, and every failed check names the
threshold it falls under. Every case carries its numbers, in the failure text
or in ``system-out``. Built with ElementTree, so every value is escaped;
nothing depends on the wall clock (the suites' timestamp is the audit's as-of).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from prefsync_audit.audit import AuditResult
from prefsync_audit.report import _format as fmt
from prefsync_audit.report.model import (
    Report,
    ReportOptions,
    SystemKeyRow,
    ThresholdLine,
    build_report,
)

#: Characters XML 1.0 cannot hold at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

#: Threshold metrics a system × key case can contribute to → how it contributes.
COUNT_METRICS = {
    "suppression_gaps": ("suppression gap", "suppression gaps"),
    "unverified_resubscribes": ("unverified re-subscribe", "unverified re-subscribes"),
    "over_suppression": ("over-suppression", "over-suppressions"),
}


def _clean(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str):
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attributes.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _suite(root: ET.Element, name: str, report: Report) -> ET.Element:
    return _element(
        root,
        "testsuite",
        name=name,
        tests="0",
        failures="0",
        errors="0",
        skipped="0",
        timestamp=report.as_of.removesuffix("Z"),
    )


def _threshold_cases(suite: ET.Element, report: Report) -> None:
    deciding = {(t.metric, t.scope) for t in report.decided_by}
    for t in report.thresholds:
        case = _element(suite, "testcase", classname=f"thresholds.{t.scope}", name=t.metric)
        numbers = "\n".join(
            [
                f"metric: {t.metric}",
                f"scope: {t.scope}",
                f"value: {t.value}",
                f"warn level: {t.warn}",
                f"fail level: {t.fail}",
                f"status: {t.status}",
                f"decides the run's status: {'yes' if (t.metric, t.scope) in deciding else 'no'}",
            ]
        )
        if t.fails_run:
            _element(case, "failure", numbers, type=f"threshold.{t.status}", message=t.sentence)
        else:
            _element(case, "system-out", numbers)


def _check_numbers(row: SystemKeyRow) -> str:
    return "\n".join(
        [
            f"system: {row.system}",
            f"key: {row.key}",
            f"comparisons: {row.comparisons}",
            f"mismatches: {row.mismatches} ({fmt.rate(row.mismatch_rate)})",
            f"suppression gaps: {row.suppression_gaps}",
            f"pending syncs: {row.pending_syncs}",
            f"unverified re-subscribes: {row.unverified_resubscribes}",
            f"over-suppressions: {row.over_suppression}",
            f"unconfirmed grants: {row.unconfirmed_grants}",
            f"missing preferences: {row.missing_preferences}",
            f"sync latency p95: {fmt.duration(row.lag_p95)}",
        ]
    )


def _contribution(row: SystemKeyRow, threshold: ThresholdLine) -> str | None:
    """Why ``row`` counts towards a failing ``threshold``, or None."""
    if threshold.scope not in ("overall", f"system:{row.system}"):
        return None
    metric, level = threshold.metric, threshold.breached_level
    if metric in COUNT_METRICS:
        value = getattr(row, metric)
        return f"{value} {COUNT_METRICS[metric][value != 1]}" if value else None
    if level is None:
        return None
    if metric == "mismatch_rate" and row.mismatch_rate is not None and row.mismatch_rate > level:
        return f"mismatch rate {fmt.rate(row.mismatch_rate)}"
    if metric == "sync_latency_p95" and row.lag_p95 is not None and row.lag_p95 > level:
        return f"sync latency p95 {fmt.duration(row.lag_p95)}"
    return None


def _check_cases(suite: ET.Element, report: Report) -> None:
    failing = [t for t in report.thresholds if t.fails_run]
    for row in report.system_keys:
        case = _element(suite, "testcase", classname=f"checks.{row.system}", name=row.key)
        reasons: dict[str, tuple[str, list[str]]] = {}
        for threshold in failing:
            why = _contribution(row, threshold)
            if why:
                reasons.setdefault(threshold.metric, (why, []))[1].append(threshold.scope)
        if reasons:
            message = f"{row.system} · {row.key}: " + "; ".join(
                f"{why} (threshold {metric}, {', '.join(scopes)}: fails the run)"
                for metric, (why, scopes) in reasons.items()
            )
            _element(
                case, "failure", _check_numbers(row), type=next(iter(reasons)), message=message
            )
        else:
            _element(case, "system-out", _check_numbers(row))


def render_junit(result: AuditResult, options: ReportOptions | None = None) -> str:
    """The report as JUnit XML (UTF-8 text with an XML declaration)."""
    return junit_document(build_report(result, options))


def junit_document(report: Report) -> str:
    """The JUnit XML of a report already built."""
    root = ET.Element("testsuites", {"name": _clean(f"prefsync-audit: {report.title}")})
    properties = {
        "as_of": report.as_of,
        "status": report.status,
        "fail_on": report.fail_on,
        "decided_by": "; ".join(t.sentence for t in report.decided_by) or "no threshold breached",
        "config_sha256": report.config_sha256,
        "tool_version": report.tool_version,
    }
    totals = {"tests": 0, "failures": 0}
    for name, fill in (("thresholds", _threshold_cases), ("checks", _check_cases)):
        suite = _suite(root, name, report)
        props = _element(suite, "properties")
        for key, value in properties.items():
            _element(props, "property", name=key, value=value)
        fill(suite, report)
        cases = suite.findall("testcase")
        failures = sum(1 for case in cases if case.find("failure") is not None)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failures))
        totals["tests"] += len(cases)
        totals["failures"] += failures
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
