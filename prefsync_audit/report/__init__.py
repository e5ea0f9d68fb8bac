"""Reports: the run summary as data, and one renderer per output format."""

from __future__ import annotations

from collections.abc import Callable

from prefsync_audit.audit import AuditResult
from prefsync_audit.report.summary import render_json
from prefsync_audit.report.text import render_text

#: Output format → renderer (a pure function of the result).
RENDERERS: dict[str, Callable[[AuditResult], str]] = {
    "text": render_text,
    "json": render_json,
}
