"""Report files from write_outputs and from ``run``: formats, permissions, step summary."""

from __future__ import annotations

import shutil
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsync_audit.audit import AuditResult
from prefsync_audit.cli import app
from prefsync_audit.report.files import write_outputs
from prefsync_audit.report.markdown import TRUNCATED_NOTE
from prefsync_audit.report.model import ReportOptions, build_report
from tests.report.conftest import MINI

FILES = {"summary.json", "findings.csv", "findings.parquet", "report.md", "report.html"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    shutil.copytree(MINI, tmp_path / "mini")
    return tmp_path / "mini" / "audit.yaml"


def test_write_outputs_writes_every_report_the_same_way_twice(
    mini_result: AuditResult, tmp_path: Path
):
    first = write_outputs(mini_result, tmp_path / "one")
    write_outputs(mini_result, tmp_path / "two")
    assert {p.name for p in first} == FILES | {"junit.xml"}
    for path in first:
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name
        assert mode(path) == 0o644


def test_write_outputs_builds_the_report_once_for_every_file_and_each_as_its_renderer_would(
    mini_result: AuditResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import prefsync_audit.report.files as files
    from prefsync_audit.report.html import render_html
    from prefsync_audit.report.junit import render_junit
    from prefsync_audit.report.markdown import render_markdown

    built = []

    def counted(*args):
        built.append(args)
        return build_report(*args)

    monkeypatch.setattr(files, "build_report", counted)
    options = ReportOptions(reveal_identifiers=True)
    write_outputs(mini_result, tmp_path, options)
    assert len(built) == 1
    for name, render in [
        ("report.md", render_markdown),
        ("report.html", render_html),
        ("junit.xml", render_junit),
    ]:
        assert (tmp_path / name).read_text(encoding="utf-8") == render(mini_result, options), name


def test_revealing_reports_are_owner_only(mini_result: AuditResult, tmp_path: Path):
    write_outputs(mini_result, tmp_path, ReportOptions(reveal_identifiers=True))
    assert mode(tmp_path / "report.md") == 0o600
    assert mode(tmp_path / "report.html") == 0o600
    assert "email=a@x.com" in (tmp_path / "report.html").read_text()
    # These never hold raw identifiers.
    for name in ("junit.xml", "summary.json", "findings.csv"):
        assert mode(tmp_path / name) == 0o644
        assert "a@x.com" not in (tmp_path / name).read_text()


def test_run_prints_markdown_and_junit(mini: Path):
    runner = CliRunner()
    markdown = runner.invoke(app, ["run", str(mini), "--format", "markdown"])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.startswith("# prefsync-audit report\n")
    assert r"- suppression\_gaps (overall) = 2: above the warn level 0" in markdown.stdout

    junit = runner.invoke(app, ["run", str(mini), "--format", "junit", "--fail-on", "warn"])
    assert junit.exit_code == 1
    root = ET.fromstring(junit.stdout.encode())
    assert root.get("failures") == "3"


def test_run_appends_a_masked_step_summary(mini: Path, tmp_path: Path):
    summary = tmp_path / "step.md"
    summary.write_text("## earlier step\n")
    runner = CliRunner()
    args = ["run", str(mini), "-o", str(tmp_path / "out"), "--reveal-identifiers"]
    done = runner.invoke(app, args, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.exit_code == 0, done.output
    text = summary.read_text()
    assert text.startswith("## earlier step\n\n# prefsync-audit report\n")
    assert "a\\*\\*\\*@x.com" in text and "a@x.com" not in text
    assert "decided by" in done.stdout.lower()
    # The files asked for with --reveal-identifiers do show them.
    assert "email=a@x.com" in (tmp_path / "out" / "report.md").read_text()


def test_step_summary_stays_under_one_mebibyte(mini: Path, tmp_path: Path):
    summary = tmp_path / "step.md"
    summary.write_text("x" * (1024 * 1024 - 1500) + "\n")
    done = CliRunner().invoke(app, ["run", str(mini)], env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.exit_code == 0, done.output
    assert summary.stat().st_size < 1024 * 1024
    assert summary.read_text().endswith(TRUNCATED_NOTE)


def test_a_clean_run_without_thresholds_renders_everywhere(tmp_path: Path):
    from prefsync_audit.audit import run_audit
    from prefsync_audit.report import RENDERERS, REPORT_FILES

    (tmp_path / "cmp.csv").write_text("Email,Status\na@x.com,ACTIVE\n")
    (tmp_path / "audit.yaml").write_text(
        "as_of: 2026-03-01T00:00:00Z\n"
        "systems:\n"
        "  cmp:\n"
        "    paths: cmp.csv\n"
        "    mapping:\n"
        "      identifiers: {email: {column: Email}}\n"
        "      preferences:\n"
        "        - {purpose: marketing, channel: email,"
        " state: {column: Status, values: {ACTIVE: granted}}}\n"
    )
    result = run_audit(tmp_path / "audit.yaml")
    assert result.findings.empty
    texts = {name: render(result) for name, render in RENDERERS.items()}
    report = build_report(result)
    texts |= {name: document(report) for name, document in REPORT_FILES.items()}
    assert "No threshold was breached." in texts["report.md"]
    assert "No findings." in texts["report.md"]
    assert "No findings: every system agrees" in texts["report.html"]
    assert ET.fromstring(texts["junit"].encode()).get("failures") == "0"


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
def test_timestamps_of_a_column_are_written_as_one_by_one(unit):
    import numpy as np
    import pandas as pd

    from prefsync_audit.report.summary import iso, iso_texts

    rng = np.random.default_rng(3)
    # Before and after 1970, with fractions of a second (cut, not rounded), and NaT.
    ticks = rng.integers(-(2**61), 2**61, 500) // 10**9 * 10**9 + rng.integers(0, 10**9, 500)
    stamps = pd.Series(pd.to_datetime(ticks).tz_localize("UTC")).astype(f"datetime64[{unit}, UTC]")
    stamps[::9] = pd.NaT
    expected = [iso(value) for value in stamps]
    assert iso_texts(stamps) == expected and None in expected
    # Another zone is written in UTC; a column of objects goes value by value.
    assert iso_texts(stamps.dt.tz_convert("America/New_York")) == expected
    assert iso_texts(stamps.astype(object)) == expected
