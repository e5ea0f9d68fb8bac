"""The compliance report (``report.html``): one self-contained, printable file.

No script, no external resource: the CSS is inline, charts are inline SVG, and
a Content-Security-Policy forbids every fetch, so opening the file makes no
network request and leaks nothing. Every value goes through Jinja2's
autoescaping.
"""

from __future__ import annotations

from functools import cache

from markupsafe import Markup

from prefsync_audit.audit import AuditResult
from prefsync_audit.report._jinja import html_environment
from prefsync_audit.report.model import Report, ReportOptions, build_report


@cache
def _stylesheet() -> Markup:
    env = html_environment()
    assert env.loader is not None
    # Read as a file, not rendered: CSS braces are not template syntax.
    source, _, _ = env.loader.get_source(env, "report.css")
    return Markup(source)


def render_html(result: AuditResult, options: ReportOptions | None = None) -> str:
    """The compliance report as one HTML document."""
    return html_document(build_report(result, options))


def html_document(report: Report) -> str:
    """The HTML document of a report already built."""
    template = html_environment().get_template("report.html.j2")
    return template.render(r=report, css=_stylesheet())
