"""Safe outputs: escaped reports, neutralized CSV formulas, atomic and owner-only
files, and no raw identifier in any default output, error or quarantine reason.

The hostile scenario plants attacker-controlled text in every export field that
reaches an output: identifiers, record ids, unmapped values, capture sources,
proofs, the config's name and an export's file name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from prefsync_audit import run_audit
from prefsync_audit.cli import app
from prefsync_audit.errors import AuditError
from prefsync_audit.report import RENDERERS, REPORT_FILES
from prefsync_audit.report.files import FORMULA_PREFIXES, write_atomic, write_outputs
from prefsync_audit.report.html import render_html
from prefsync_audit.report.model import ReportOptions

XSS = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
LINK = "](javascript:alert(3))"
EXPORT_FILE = "=1+2<img src=x onerror=alert(4)>.csv"

CMP_ROWS = [
    # Email, Status, Date, Source, Proof
    ("=1+1@x.com", "OPT_OUT", "2026-01-01T00:00:00Z", IMG, "=cmd|' /C calc'!A0"),
    (f"{XSS}@x.com", "OPT_OUT", "2026-01-01T00:00:00Z", "@SUM(1+1)", LINK),
    (f"{LINK}@x.com", "OPT_OUT", "2026-01-01T00:00:00Z", "web", "-2+3"),
    ("plain@x.com", XSS, "2026-01-01T00:00:00Z", "web", ""),
    ("other@x.com", f"[click]{LINK}", "2026-01-01T00:00:00Z", "web", ""),
]
ESP_ROWS = [
    # Id, email, phone, optout
    ('=HYPERLINK("http://evil.example","x")', "=1+1@x.com", "+12025550100", "false"),
    (XSS, f"{XSS}@x.com", "", "false"),
    (f"[click]{LINK}", f"{LINK}@x.com", "", "false"),
    ("\tTAB", "plain@x.com", "", "false"),
    ("\rCR", "other@x.com", "", IMG),
    ("+44", "third@x.com", "", "false"),
]
CONFIG = f"""\
name: "Audit {XSS} {LINK}"
as_of: 2026-03-01T00:00:00Z
systems:
  cmp:
    paths: cmp.csv
    mapping:
      identifiers: {{email: {{column: Email}}}}
      updated_at: {{column: Date}}
      capture_source: {{column: Source}}
      proof: {{column: Proof}}
      preferences:
        - {{purpose: marketing, channel: email,
           state: {{column: Status, values: {{ACTIVE: granted, OPT_OUT: denied}}}}}}
  esp:
    paths: '=*.csv'
    mapping:
      record_id: Id
      identifiers: {{email: {{column: email}}, phone: {{column: phone}}}}
      updated_at: {{column: changed}}
      preferences:
        - {{purpose: marketing, channel: email,
           state: {{column: optout, vocabulary: boolean, invert: true}}}}
policy:
  authorities: [{{key: marketing/email, system: cmp}}]
"""
RAW_IDENTIFIERS = [email for email, *_ in CMP_ROWS] + ["+12025550100", "third@x.com"]


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue())


def hostile_scenario(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "cmp.csv", ["Email", "Status", "Date", "Source", "Proof"], CMP_ROWS)
    rows = [(*row, "2025-12-01T00:00:00Z") for row in ESP_ROWS]
    write_csv(folder / EXPORT_FILE, ["Id", "email", "phone", "optout", "changed"], rows)
    config = folder / "audit.yaml"
    config.write_text(CONFIG)
    return config


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    config = hostile_scenario(folder)
    return folder, run_audit(config)


# --- Escaping in HTML and Markdown -----------------------------------------------------


class _Elements(HTMLParser):
    """Every start tag with its attributes, and all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def assert_inert(html: str) -> str:
    """No script, no event handler, no javascript: URL; returns the text content."""
    parsed = elements(html)
    for tag, attrs in parsed.tags:
        assert tag not in ("script", "iframe", "object", "embed"), tag
        if tag == "img":
            raise AssertionError(f"an <img> from a value: {attrs}")
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert "javascript:" not in (value or "").replace(" ", "").lower(), (tag, name)
    return " ".join(parsed.text)


@pytest.mark.parametrize("reveal", [False, True], ids=["masked", "revealed"])
def test_html_report_escapes_every_export_value(hostile, reveal):
    _, result = hostile
    html = render_html(result, ReportOptions(reveal_identifiers=reveal))
    text = assert_inert(html)
    # The hostile values are there, as text.
    assert XSS in text
    assert IMG in text
    assert EXPORT_FILE in text
    if reveal:
        assert f"{LINK}@x.com" in text


@pytest.mark.parametrize("reveal", [False, True], ids=["masked", "revealed"])
def test_markdown_report_escapes_every_export_value(hostile, reveal):
    render = RENDERERS.get("markdown")
    if render is None:
        pytest.skip("no Markdown renderer yet (report.RENDERERS['markdown'])")
    _, result = hostile
    markdown = render(result, ReportOptions(reveal_identifiers=reveal))
    # Rendered the way GitHub would (CommonMark, tables, raw HTML allowed).
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    text = assert_inert(html)
    assert not any(tag == "a" for tag, _ in elements(html).tags), "a link from a value"
    assert XSS in text
    assert IMG in text
    if reveal:
        assert f"{LINK}@x.com" in text
    # Table rows stay whole: a value cannot add cells.
    for line in markdown.splitlines():
        if line.startswith("| esp |") or line.startswith("| cmp |"):
            cells = line.replace("\\|", "").count("|")
            assert cells in (7, 11), line


# --- Formula injection in CSV outputs --------------------------------------------------


def runs_as_formula(cell: str) -> bool:
    """A cell a spreadsheet would evaluate: a formula prefix, unless the cell is a
    plain number (``+12025550100``, ``-5``), which is only ever a number."""
    return cell.startswith(FORMULA_PREFIXES) and not re.fullmatch(r"[+-]?\d+(\.\d+)?", cell)


def formula_cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row if runs_as_formula(cell)]


def test_findings_csv_neutralizes_formulas(hostile, tmp_path):
    _, result = hostile
    write_outputs(result, tmp_path)
    path = tmp_path / "findings.csv"
    assert formula_cells(path) == []
    text = path.read_text()
    # The neutralized value is still there to read, behind a quote.
    assert f"'{EXPORT_FILE}" in text


def test_remediation_csv_neutralizes_formulas(hostile, tmp_path):
    from prefsync_audit.remediation import write_remediation

    _, result = hostile
    written = [p for p in write_remediation(result, tmp_path / "fixes") if p.suffix == ".csv"]
    assert written, "the hostile scenario plants suppression gaps"
    for path in written:
        assert formula_cells(path) == [], path.name
    text = "".join(p.read_text() for p in written)
    assert "'=1+1@x.com" in text
    assert "'=HYPERLINK(" in text
    assert ",+12025550100," in text  # E.164 stays importable


def test_findings_command_csv_neutralizes_formulas(hostile, tmp_path):
    _, result = hostile
    write_outputs(result, tmp_path)
    done = CliRunner().invoke(app, ["findings", str(tmp_path), "--format", "csv"])
    assert done.exit_code == 0, done.output
    cells = [c for row in csv.reader(io.StringIO(done.stdout)) for c in row]
    assert cells and not [c for c in cells if c.startswith(FORMULA_PREFIXES)]


@pytest.mark.parametrize("prefix", list(FORMULA_PREFIXES))
def test_every_owasp_prefix_is_neutralized(prefix):
    from prefsync_audit.report.files import neutralize_formulas

    assert neutralize_formulas(prefix + "SUM(A1)") == "'" + prefix + "SUM(A1)"
    assert neutralize_formulas("plain" + prefix) == "plain" + prefix
    assert neutralize_formulas(-5) == -5


def test_formula_safe_frame_is_each_cell_neutralized():
    from prefsync_audit.report.files import formula_safe, neutralize_formulas

    frame = pd.DataFrame(
        {
            "detail": pd.Series(["=HYPERLINK()", "ok", None, "-1", "\tx"], dtype=object),
            "text": pd.Series(["@me", "fine", None, "+1", "a=b"], dtype="str"),
            "number": [-5.0, 1.0, float("nan"), 2.0, 3.0],
            "count": pd.Series([-1, None, 3, 4, 5], dtype="Int64"),
            # Not all text: tested value by value.
            "mixed": pd.Series([-1, "=1+1", None, 2.5, "x"], dtype=object),
        }
    )
    safe = formula_safe(frame)
    # The same file as a call per cell writes.
    assert safe.to_csv(index=False) == frame.map(neutralize_formulas).to_csv(index=False)
    assert safe["detail"].tolist()[:4] == ["'=HYPERLINK()", "ok", None, "'-1"]
    assert safe["text"].tolist()[0] == "'@me" and safe["text"].tolist()[3] == "'+1"
    assert safe["mixed"].tolist()[:2] == [-1, "'=1+1"]
    # Numbers are never formulas, and keep their types.
    assert safe["count"].dtype == "Int64" and safe["number"].dtype == "float64"
    assert frame["detail"].tolist()[0] == "=HYPERLINK()"  # the input is left as it was


# --- Atomic writes ------------------------------------------------------------------


def test_interrupted_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "report.html"

    def half_then_interrupted(path: Path) -> None:
        path.write_text("<html><body>half a repo")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half_then_interrupted)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_the_previous_file_whole(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text('{"complete": true}')

    def half_then_crash(path: Path) -> None:
        path.write_text('{"comp')
        raise OSError("No space left on device")

    with pytest.raises(OSError):
        write_atomic(target, half_then_crash)
    assert target.read_text() == '{"complete": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_run_interrupted_while_writing_parquet_leaves_no_partial_findings(
    hostile, tmp_path, monkeypatch
):
    from prefsync_audit.report import files

    folder, _ = hostile

    def half_parquet(table, where, *args, **kwargs):
        Path(where).write_bytes(b"PAR1 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(files.pq, "write_table", half_parquet)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(folder / "audit.yaml"), "--output", str(out)])
    assert result.exit_code != 0
    # summary.json is written last: an interrupted run leaves no summary that
    # would make the folder look complete, and no half-written Parquet.
    assert not (out / "summary.json").exists()
    assert not (out / "findings.parquet").exists()
    assert sorted(p.name for p in out.iterdir()) == []


def test_output_symlink_is_replaced_not_followed(hostile, tmp_path):
    _, result = hostile
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").symlink_to(victim)
    write_outputs(result, out)
    assert victim.read_text() == "precious"
    assert not (out / "summary.json").is_symlink()
    assert json.loads((out / "summary.json").read_text())["systems"] == ["cmp", "esp"]


def _as_of_in(path: Path) -> str | None:
    text = path.read_text()
    for day in ("2026-03-01", "2026-03-02"):
        if day in text:
            return day
    return None


def test_interrupted_rerun_never_mixes_two_runs_in_one_folder(hostile, tmp_path, monkeypatch):
    folder, _ = hostile
    out = tmp_path / "out"
    config = str(folder / "audit.yaml")
    first = CliRunner().invoke(app, ["run", config, "-o", str(out), "--as-of", "2026-03-01"])
    assert first.exception is None or isinstance(first.exception, SystemExit)

    def interrupted(report):
        raise KeyboardInterrupt

    monkeypatch.setitem(REPORT_FILES, "report.html", interrupted)
    CliRunner().invoke(app, ["run", config, "-o", str(out), "--as-of", "2026-03-02"])
    if (out / "summary.json").exists():
        current = json.loads((out / "summary.json").read_text())["as_of"][:10]
        for name in ("report.md", "report.html", "findings.csv"):
            if (out / name).exists():
                assert _as_of_in(out / name) in (current, None), name


# --- Owner-only files ------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_owner_only(folder: Path) -> None:
    """The folder and every folder under it 0700, every file 0600."""
    entries = [folder, *folder.rglob("*")]
    assert len(entries) > 1
    for path in entries:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_files_with_raw_identifiers_are_owner_only(hostile, tmp_path):
    folder, _ = hostile
    out, fixes, history = tmp_path / "out", tmp_path / "fixes", tmp_path / "audits.db"
    args = ["run", str(folder / "audit.yaml"), "-o", str(out), "--save-canonical"]
    args += ["--remediation", str(fixes), "--reveal-identifiers", "--history", str(history)]
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert_owner_only(out / "canonical")
    assert mode(fixes) == 0o700
    remediation = sorted(fixes.glob("*.csv"))
    assert remediation and all(mode(p) == 0o600 for p in remediation)
    assert mode(out / "report.md") == mode(out / "report.html") == 0o600
    assert mode(history) == 0o600


# --- No raw identifiers in default outputs, errors or reasons --------------------------------


def _texts_of(folder: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        if path.suffix == ".parquet":
            texts[path.name] = json.dumps(pq.read_table(path).to_pylist(), default=str)
        else:
            texts[path.name] = path.read_text(encoding="utf-8")
    return texts


def test_default_outputs_hold_no_raw_identifier(hostile, tmp_path):
    folder, _ = hostile
    out = tmp_path / "out"
    config = str(folder / "audit.yaml")
    outputs = {}
    for fmt in ("text", "json", "markdown", "junit"):
        args = ["run", config, "--format", fmt] + (["-o", str(out)] if fmt == "text" else [])
        result = CliRunner().invoke(app, args)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        outputs[f"stdout ({fmt})"] = result.output
    outputs.update(_texts_of(out))
    assert {"summary.json", "findings.csv", "findings.parquet", "report.md", "report.html"} <= set(
        outputs
    )
    for where, text in outputs.items():
        for raw in RAW_IDENTIFIERS:
            assert raw not in text, f"{raw!r} in {where}"


SECRET = "jane.secret@example.com"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(f"Email,Phone,Updated,OptIn\n{SECRET}@,12,2026,true\n", id="invalid-values"),
        pytest.param(f"Email,Phone,Updated,OptIn\n{SECRET},,2026-01-01,true,x\n", id="ragged"),
        pytest.param(f"Email,Phone,Updated,OptIn\n{SECRET}\x00,,2026-01-01,x\n", id="nul"),
        pytest.param(f"Email,Phone,Updated,OptIn\n{SECRET},,2026-99-01,true\n", id="bad-date"),
        pytest.param(f'Email,Phone,Updated,OptIn\n{SECRET},"open,x,y\n', id="unterminated"),
        pytest.param(
            f"Email,Phone,Updated,OptIn\n{SECRET},,,{'y' * 300_000}\n".encode(), id="long-value"
        ),
        pytest.param(
            f"Email,Phone,Updated,OptIn\n{SECRET},,2026-01-01,caf\xe9\n".encode("latin-1"),
            id="undecodable",
        ),
    ],
)
def test_errors_and_quarantine_reasons_never_print_identifiers(tmp_path, content):
    folder = tmp_path / "audit"
    folder.mkdir()
    (folder / "crm.csv").write_bytes(content.encode() if isinstance(content, str) else content)
    config = folder / "audit.yaml"
    config.write_text(
        "systems:\n  crm:\n    paths: crm.csv\n    mapping:\n"
        "      identifiers: {email: {column: Email}, phone: {column: Phone}}\n"
        "      updated_at: {column: Updated}\n"
        "      preferences: [{purpose: marketing, state: {column: OptIn, vocabulary: boolean}}]\n"
    )
    result = CliRunner().invoke(app, ["run", str(config), "--format", "json"])
    if isinstance(result.exception, AuditError):
        shown = str(result.exception)
    else:
        assert result.exit_code == 0, result.output
        shown = result.output
        assert json.loads(result.stdout)["quarantine"]["rows"] == 1
    assert SECRET not in shown
    assert "jane" not in shown


def test_arrow_parse_messages_lose_the_row_text():
    from prefsync_audit._delimited import _ROW_TEXT

    message = f"CSV parse error: Expected 4 columns, got 5: {SECRET},x,y,z,w"
    assert _ROW_TEXT.sub(r"\1", message) == "CSV parse error: Expected 4 columns, got 5"


def test_history_and_canonical_files_are_not_world_readable_even_with_a_loose_umask(
    hostile, tmp_path
):
    folder, _ = hostile
    previous = os.umask(0o000)
    try:
        out, history = tmp_path / "out", tmp_path / "audits.db"
        args = ["run", str(folder / "audit.yaml"), "-o", str(out), "--save-canonical"]
        args += ["--history", str(history)]
        CliRunner().invoke(app, args)
    finally:
        os.umask(previous)
    assert mode(history) == 0o600
    assert_owner_only(out / "canonical")
