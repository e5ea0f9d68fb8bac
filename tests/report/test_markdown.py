"""report.md: golden file on the demo, escaping, and the step-summary size limit."""

from __future__ import annotations

import re

from prefsync_audit.audit import AuditResult
from prefsync_audit.report.markdown import TRUNCATED_NOTE, render_markdown, truncate_markdown
from prefsync_audit.report.model import ReportOptions
from tests.report._golden import assert_golden
from tests.report.conftest import HOSTILE


def test_demo_report_matches_golden(demo_result: AuditResult):
    assert_golden("report.md", render_markdown(demo_result))


def test_names_status_and_deciding_thresholds(demo_result: AuditResult):
    text = render_markdown(demo_result)
    assert "**Status: FAIL**" in text
    assert "Decided by:" in text
    assert r"- suppression\_gaps (overall) = " in text
    assert ": above the fail level 5" in text


def test_masked_by_default_and_revealed_on_request(mini_result: AuditResult):
    masked = render_markdown(mini_result)
    assert r"a\*\*\*@x.com" in masked
    assert "a@x.com" not in masked
    revealed = render_markdown(mini_result, ReportOptions(reveal_identifiers=True))
    assert "email=a@x.com" in revealed
    assert "shown in full" in revealed


def test_hostile_values_stay_text(hostile_result: AuditResult):
    text = render_markdown(hostile_result, ReportOptions(reveal_identifiers=True))
    # The unmapped value is shown as an inline code span (literal in Markdown);
    # everywhere else "<" is backslash-escaped, so no raw HTML is left.
    assert f"`{HOSTILE}`" in text
    assert "<" not in text.replace(f"`{HOSTILE}`", "").replace("\\<", "")
    assert r"\<img/src=x\>\|\&amp;@x.com" in text
    # No value may add a column: every row of a table has as many cell borders.
    for table in re.split(r"\n(?!\|)", text):
        rows = [line for line in table.splitlines() if line.startswith("|")]
        assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows}) <= 1, rows


def test_truncation_keeps_whole_lines_and_adds_a_note():
    text = "".join(f"| row {i} | {'é' * 50} |\n" for i in range(1000))
    limit = 20_000
    cut = truncate_markdown(text, limit)
    assert len(cut.encode("utf-8")) <= limit
    assert cut.endswith(TRUNCATED_NOTE)
    body = cut.removesuffix(TRUNCATED_NOTE)
    assert body.endswith("|\n")
    assert text.startswith(body)
    assert truncate_markdown("short\n", limit) == "short\n"
    assert truncate_markdown(text, 10) == ""
