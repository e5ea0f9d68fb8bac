"""The Markdown report (``report.md``, ``--format markdown``, the GitHub step summary)."""

from __future__ import annotations

from prefsync_audit.audit import AuditResult
from prefsync_audit.report import _format as fmt
from prefsync_audit.report._jinja import markdown_environment
from prefsync_audit.report.model import Report, ReportOptions, build_report

#: GitHub refuses a step summary over 1 MiB.
STEP_SUMMARY_LIMIT = 1024 * 1024
TRUNCATED_NOTE = (
    "\n\n> **Truncated**: this summary was cut to stay under GitHub's 1 MiB limit. "
    "The full report is `report.md` / `report.html` in the run's output folder.\n"
)


def render_markdown(result: AuditResult, options: ReportOptions | None = None) -> str:
    """The report as GitHub-flavoured Markdown. Every value is escaped, so a
    hostile raw value (``<script>``, ``|``) stays literal text."""
    return markdown_document(build_report(result, options))


def markdown_document(report: Report) -> str:
    """The Markdown of a report already built."""
    template = markdown_environment().get_template("report.md.j2")
    return template.render(report=report, rate=fmt.rate, duration=fmt.duration)


def truncate_markdown(text: str, limit: int) -> str:
    """``text`` cut at a line end so it and a note fit in ``limit`` UTF-8 bytes.

    Returns an empty string when not even the note fits.
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(TRUNCATED_NOTE.encode("utf-8"))
    if room <= 0:
        return ""
    cut = data[:room].decode("utf-8", errors="ignore")
    # A half line could leave a broken table row behind.
    cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else ""
    return cut + TRUNCATED_NOTE
