"""report.html in a real browser: Debian's headless Chromium, driven over the
DevTools protocol pipe (standard library only, see ``_cdp.py``).

The page must load with no console error and no network request but its own
file; a full-page PNG is kept under ``test-artifacts/`` for a human to look at.
Skipped when Chromium is not installed, unless ``PREFSYNC_REQUIRE_BROWSER=1``
(set by ``.ci/run``, which installs it) turns the skip into a failure.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prefsync_audit.audit import AuditResult
from prefsync_audit.history import open_history, record_run
from prefsync_audit.report.html import render_html
from prefsync_audit.report.model import ReportOptions
from tests.report._cdp import find_chromium, load_page

ARTIFACTS = Path(__file__).parent.parent.parent / "test-artifacts"
CHROMIUM = find_chromium()

if CHROMIUM is None and os.environ.get("PREFSYNC_REQUIRE_BROWSER") == "1":
    raise RuntimeError("PREFSYNC_REQUIRE_BROWSER=1 but chromium is not installed")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium); .ci/run installs it",
)


def test_report_loads_offline_without_errors(demo_result: AuditResult, tmp_path: Path):
    # Recorded twice in a history, so the trend section is drawn too.
    store = open_history(tmp_path / "history.db")
    for _ in range(2):
        view = record_run(store, demo_result, datetime(2026, 3, 1, tzinfo=UTC))
    store.close()
    page = tmp_path / "report.html"
    page.write_text(render_html(demo_result, ReportOptions(history=view)), encoding="utf-8")
    assert 'id="trend"' in page.read_text()
    load = load_page(CHROMIUM, page.as_uri(), tmp_path / "profile")

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(load.screenshot)
    assert load.screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(load.screenshot) > 10_000
    assert load.console_errors == []
    assert load.requests == [page.as_uri()]


def test_the_probe_sees_errors_and_requests(tmp_path: Path):
    # Proof that the test above would fail: a page with a console error and
    # an outside request is caught (the request targets a closed local port).
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><title>bad</title><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('boom')</script>"
    )
    load = load_page(CHROMIUM, page.as_uri(), tmp_path / "profile")
    assert any("boom" in error for error in load.console_errors)
    assert "http://127.0.0.1:9/x.png" in load.requests
