"""The terminal summary (``report/text.py``)."""

from __future__ import annotations

import copy
import io

from rich.console import Console

from prefsync_audit.audit import AuditResult
from prefsync_audit.report import text
from prefsync_audit.report.summary import build_summary


def _plain(table) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(table)
    return buffer.getvalue()


def test_lag_under_a_minute_reads_in_seconds_as_in_the_reports(mini_result: AuditResult):
    # The terminal once printed a 30-second p95 lag as "0m" while report.md said "30s".
    summary = copy.deepcopy(build_summary(mini_result))
    by_system = summary["metrics"]["by_system"]
    system = next(iter(by_system))
    key = next(iter(by_system[system]["by_key"]))
    by_system[system]["by_key"][key]["sync_latency"]["p95"] = 30.0
    rendered = _plain(text._systems_table(summary))
    row = next(line for line in rendered.splitlines() if key in line and system in line)
    assert row.rstrip(" │").endswith("30s")
    assert "0m" not in row
