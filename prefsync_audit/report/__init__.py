"""Reports: the run summary as data, and one renderer per output format.

Every renderer is a pure function ``render(result, options=None) -> str``;
``options`` (:class:`~prefsync_audit.report.model.ReportOptions`) carries what
the CLI flags and the history add. ``RENDERERS`` are what ``--format`` can
print; ``REPORT_FILES`` are the report files ``--output`` writes, each a
document of one :class:`~prefsync_audit.report.model.Report` built once for
them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from prefsync_audit.audit import AuditResult
from prefsync_audit.report.html import html_document
from prefsync_audit.report.junit import junit_document, render_junit
from prefsync_audit.report.markdown import markdown_document, render_markdown
from prefsync_audit.report.model import Report, ReportOptions
from prefsync_audit.report.summary import render_json
from prefsync_audit.report.text import render_text


class Renderer(Protocol):
    def __call__(self, result: AuditResult, options: ReportOptions | None = None) -> str: ...


def _text(result: AuditResult, options: ReportOptions | None = None) -> str:
    text = render_text(result)
    if options is not None and options.history is not None:
        text += options.history.line() + "\n"
    return text


def _json(result: AuditResult, options: ReportOptions | None = None) -> str:
    return render_json(result, options.history if options else None)


#: Output format → renderer (a pure function of the result).
RENDERERS: dict[str, Renderer] = {
    "text": _text,
    "json": _json,
    "markdown": render_markdown,
    "junit": render_junit,
}

#: Report file name → its document of the report; ``write_outputs`` builds the
#: report once (the summary, examples and charts: 0.15 s at 1M persons) and
#: writes each of them.
REPORT_FILES: dict[str, Callable[[Report], str]] = {
    "report.md": markdown_document,
    "report.html": html_document,
    "junit.xml": junit_document,
}

#: Report files that show identifiers in full under ``--reveal-identifiers``.
REVEALING_FILES = {"report.md", "report.html"}

__all__ = ["RENDERERS", "REPORT_FILES", "Renderer", "ReportOptions"]
