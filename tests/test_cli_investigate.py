"""End-to-end: ``trace``, ``diff`` and ``findings`` on the demo, in process.

Commands run through :func:`prefsync_audit.cli.main` (the console entry point,
where user errors become one line and exit code 2), with ``sys.argv`` patched.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsync_audit.cli import app, main

CONFIG = Path(__file__).parent.parent / "sample_exports" / "retail" / "audit.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("demo-run")
    done = CliRunner().invoke(
        app, ["run", str(CONFIG), "-o", str(folder), "--save-canonical", "--fail-on", "never"]
    )
    assert done.exit_code == 0, done.output
    return str(folder)


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args) -> (exit code, stdout, stderr)`` through the console entry point."""

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["prefsync-audit", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        return exit_.value.code, out, err

    return invoke


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    return err


@pytest.mark.parametrize("command", ["trace", "diff", "findings"])
def test_help_has_an_example(command):
    done = CliRunner().invoke(app, [command, "--help"])
    assert done.exit_code == 0
    assert "Example" in done.output


def test_trace_suppression_gap_from_the_config(cli):
    code, out, err = cli("trace", str(CONFIG), "harriet.oyelaran@inbox.example")
    assert code == 0, err
    assert "Person " in out and "h***@inbox.example" in out
    assert "marketing/email/*  expected denied  rule: latest" in out
    assert "suppression_gap" in out and " began " in out and " decides " in out
    assert "harriet.oyelaran" not in out and "NW-143036" not in out


def test_trace_json_is_the_same_from_the_config_and_from_the_run(cli, run_dir):
    code, from_config, _ = cli("trace", str(CONFIG), "maya.thornbury@gmail.com", "-f", "json")
    assert code == 0
    code, from_run, _ = cli(
        "trace", "--from-run", run_dir, "maya.thornbury@gmail.com", "-f", "json"
    )
    assert code == 0
    config_doc, run_doc = json.loads(from_config), json.loads(from_run)
    for document in (config_doc, run_doc):
        document.pop("source")
        document.pop("notes")
    assert run_doc == config_doc
    assert {r["system"] for r in run_doc["records"]} >= {"crm", "cmp", "ads"}


def test_trace_hashed_audience_only(cli, run_dir):
    code, out, _ = cli("trace", "--from-run", run_dir, "mayathornbury@gmail.com", "-f", "json")
    assert code == 0
    document = json.loads(out)
    assert [m.split("=")[0] for m in document["matched"]] == ["email_sha256"]
    (ads,) = [r for r in document["records"] if r["system"] == "ads"]
    assert ads["source_row"] == 40
    advertising = next(k for k in document["keys"] if k["key"] == "advertising/*/*")
    assert {v["system"]: v["verdict"] for v in advertising["systems"]}["ads"] == "suppression_gap"
    assert any("hash profiles" in note for note in document["notes"])


def test_trace_identity_conflict_text(cli, run_dir):
    code, out, _ = cli("trace", "--from-run", run_dir, "NW-118032")
    assert code == 0
    assert "identity conflict: customer_id: N***11, N***32" in out
    assert "crm_contacts.csv:57" in out and "crm_contacts.csv:209" in out


def test_trace_with_config_and_run_uses_the_config_settings(cli, run_dir):
    code, out, _ = cli(
        "trace", "--from-run", run_dir, str(CONFIG), "mayathornbury@gmail.com", "-f", "json"
    )
    assert code == 0
    assert json.loads(out)["notes"] == []


def test_trace_reveal_identifiers(cli, run_dir):
    code, out, _ = cli(
        "trace", "--from-run", run_dir, "harriet.oyelaran@inbox.example", "--reveal-identifiers"
    )
    assert code == 0
    assert "harriet.oyelaran@inbox.example" in out and "NW-143036" in out


def test_trace_unknown_identifier(cli, run_dir):
    err = one_line_error(*cli("trace", "--from-run", run_dir, "nobody@nowhere.example"))
    assert "no person matches 'n***@nowhere.example'" in err


def test_trace_ambiguous_identifier(cli, run_dir):
    err = one_line_error(*cli("trace", "--from-run", run_dir, "noemail@northwind.example"))
    assert "matches 32 persons" in err and "placeholder list" in err
    assert "person:ID" in err and "noemail@" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trace", "only-one-argument"], "expected trace CONFIG IDENTIFIER"),
        (["trace", "--from-run", "{run}", "  "], "the identifier is empty"),
        (["trace", "--from-run", "{missing}", "x@y.example"], "no such run folder"),
        (["trace", "--from-run", "{run}", "x@y.example", "--as-of", "2026-01-01"], "--as-of"),
        (["diff", "--from-run", "{run}", "crm", "mailchimp"], "unknown system 'mailchimp'"),
        (["diff", "--from-run", "{run}", "crm"], "expected diff --from-run"),
        (["findings", "{missing}"], "no such run folder"),
        (["findings", "{run}", "--kind", "gap"], "unknown kind 'gap'"),
        (["findings", "{run}", "--system", "mailchimp"], "unknown system 'mailchimp'"),
    ],
    ids=[
        "trace-arguments",
        "trace-empty-identifier",
        "trace-missing-run",
        "trace-as-of-with-run",
        "diff-unknown-system",
        "diff-arguments",
        "findings-missing-run",
        "findings-unknown-kind",
        "findings-unknown-system",
    ],
)
def test_errors_are_one_line_exit_2(cli, run_dir, tmp_path, args, expected):
    args = [a.format(run=run_dir, missing=tmp_path / "missing") for a in args]
    assert expected in one_line_error(*cli(*args))


def test_diff_from_the_config(cli):
    code, out, err = cli("diff", str(CONFIG), "crm", "email", "--purpose", "marketing")
    assert code == 0, err
    assert "crm vs email" in out and "crm ↓  email →" in out
    assert "marketing/email/*" in out and "disagree" in out
    assert "keys only crm holds (not compared): marketing/phone/*" in out


def test_diff_json_from_the_run(cli, run_dir):
    code, out, _ = cli("diff", "--from-run", run_dir, "cmp", "ads", "--sample", "2", "-f", "json")
    assert code == 0
    document = json.loads(out)
    advertising = next(k for k in document["keys"] if k["key"] == "advertising/*/*")
    assert advertising["crosstab"]["denied"]["granted"] == 3
    assert len(advertising["sample"]) == 2
    assert document["overall"]["agreement_rate"] is not None


def test_findings_text_json_csv(cli, run_dir):
    code, out, _ = cli("findings", run_dir, "--kind", "suppression_gap", "--system", "ads")
    assert code == 0
    assert "3 of 3 matching findings" in out and "customer_match_audience.csv" in out
    code, out, _ = cli("findings", run_dir, "--severity", "critical", "-f", "json", "-n", "2")
    document = json.loads(out)
    assert document["returned"] == 2 and document["matched"] > 2
    assert {f["severity"] for f in document["findings"]} == {"critical"}
    code, out, _ = cli("findings", run_dir, "--purpose", "advertising", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and {r["purpose"] for r in rows} == {"advertising"}
    assert list(rows[0])[:3] == ["finding_id", "kind", "severity"]
