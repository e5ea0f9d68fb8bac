"""report.html: sections, self-containment, escaping, masking."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from prefsync_audit.audit import AuditResult
from prefsync_audit.report.html import render_html
from prefsync_audit.report.model import ReportOptions
from tests.report.conftest import HOSTILE

SECTIONS = ["status", "scope", "metrics", "heatmap", "latency", "findings", "identity", "inputs"]


class Page(HTMLParser):
    """The tags, attributes and text of a page, for structure assertions."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.tags if a.get("id")]


@pytest.fixture(scope="module")
def demo_html(demo_result: AuditResult) -> str:
    return render_html(demo_result)


def test_every_section_in_order(demo_html: str):
    ids = Page(demo_html).ids()
    assert [i for i in ids if i in SECTIONS] == SECTIONS
    assert ids[-1] == "methodology"
    assert "trend" not in ids  # no history given


def test_headline_names_status_and_deciding_thresholds(demo_html: str):
    assert '<span class="status fail">FAIL</span>' in demo_html
    assert "Decided by" in demo_html
    assert "suppression_gaps (system:ads) = 3: above the fail level 0" in demo_html


def test_scope_lists_files_with_hashes_config_hash_version_and_policy(
    demo_result: AuditResult, demo_html: str
):
    for entry in demo_result.canonical.inputs.itertuples():
        assert entry.sha256 in demo_html
        assert entry.path in demo_html
    assert demo_result.config.sha256 in demo_html
    assert f"prefsync-audit {demo_result.tool_version}" in demo_html
    assert "A grant counts only from the key&#39;s source of truth: cmp for" in demo_html
    assert "within 72 hours" in demo_html


def test_self_contained(demo_html: str):
    page = Page(demo_html)
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags
    assert not {"link", "img", "iframe", "object", "embed"} & tags
    for _, attributes in page.tags:
        for name in ("src", "href", "action", "srcset", "xlink:href"):
            assert name not in attributes, attributes
    # No URL anywhere: not in attributes, not in CSS url(), not protocol-relative.
    assert not re.search(r"https?://|url\(|@import|\s//[\w.]", demo_html)
    assert "default-src 'none'" in demo_html
    assert "@media print" in demo_html and "break-before: page" in demo_html
    assert demo_html.count("<svg") >= 2


def test_identifiers_masked_by_default(mini_result: AuditResult):
    html = render_html(mini_result)
    assert "a***@x.com" in html
    assert "a@x.com" not in html
    assert "holds personal data" not in html


def test_identifiers_revealed_on_request(mini_result: AuditResult):
    html = render_html(mini_result, ReportOptions(reveal_identifiers=True))
    assert "email=a@x.com" in html
    assert "holds personal data" in html


def test_hostile_values_are_escaped(hostile_result: AuditResult):
    html = render_html(hostile_result, ReportOptions(reveal_identifiers=True))
    page = Page(html)
    assert "script" not in {tag for tag, _ in page.tags}
    assert "img" not in {tag for tag, _ in page.tags}
    assert "b" not in {tag for tag, _ in page.tags}
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img/src=x&gt;|&amp;amp;@x.com" in html
    assert "&lt;b&gt;ESP&lt;/b&gt;" in html
    # And the text a reader sees is the raw value itself.
    assert HOSTILE in "".join(page.text)


def test_same_run_same_bytes(mini_result: AuditResult):
    assert render_html(mini_result) == render_html(mini_result)


def test_invalid_identifier_counts_are_numbers() -> None:
    """The invalid-identifiers table shows each count (a dict key named ``values``
    once printed the dict's method instead)."""
    from prefsync_audit.audit import run_audit
    from tests.report.conftest import ROOT

    result = run_audit(ROOT / "sample_exports" / "vendors" / "audit.yaml")
    invalid = result.canonical.invalid_identifiers
    assert len(invalid)
    page = render_html(result)
    assert "built-in method" not in page
    for row in invalid.itertuples():
        cells = f'<td>{row.system}</td><td>{row.kind}</td><td class="num">{row.values}</td>'
        assert cells in page
