"""End-to-end CLI tests: exit codes, outputs, determinism, validate, error paths."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MINI = Path(__file__).parent / "fixtures" / "mini"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "prefsync_audit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    target = tmp_path / "mini"
    shutil.copytree(MINI, target)
    return target / "audit.yaml"


def test_version():
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("prefsync-audit ")


def test_run_exit_codes_follow_fail_on(mini: Path):
    # Two suppression gaps: above warn (0), below fail (5).
    assert cli("run", str(mini)).returncode == 0
    assert cli("run", str(mini), "--fail-on", "warn").returncode == 1
    assert cli("run", str(mini), "--fail-on", "never").returncode == 0
    failing = mini.read_text().replace("fail: 5", "fail: 1")
    mini.write_text(failing)
    done = cli("run", str(mini))
    assert done.returncode == 1
    assert "decided by suppression_gaps" in done.stdout


def test_text_summary_names_status_and_masks(mini: Path):
    done = cli("run", str(mini))
    assert "Status: WARN" in done.stdout
    assert "a***@x.com" in done.stdout
    assert "a@x.com" not in done.stdout


def test_outputs_are_written_and_deterministic(mini: Path, tmp_path: Path):
    first, second = tmp_path / "one", tmp_path / "two"
    assert cli("run", str(mini), "--output", str(first)).returncode == 0
    assert cli("run", str(mini), "--output", str(second)).returncode == 0
    for name in ("summary.json", "findings.csv", "findings.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    summary = json.loads((first / "summary.json").read_text())
    for field in (
        "schema_version",
        "tool_version",
        "as_of",
        "config_sha256",
        "inputs",
        "persons",
        "metrics",
        "findings_by_kind",
        "thresholds",
        "status",
    ):
        assert field in summary
    assert summary["as_of"] == "2026-03-01T00:00:00Z"
    assert summary["persons"] == 6
    assert summary["status"] == "warn"
    for entry in summary["inputs"]:
        assert entry["rows_read"] == (
            entry["rows_mapped"] + entry["rows_quarantined"] + entry["rows_ignored"]
        )
    header = (first / "findings.csv").read_text().splitlines()[0]
    assert header.startswith("finding_id,kind,severity,person_id,system,purpose")


def test_as_of_flag_overrides_config(mini: Path):
    done = cli("run", str(mini), "--format", "json", "--as-of", "2026-01-02T00:00:00Z")
    summary = json.loads(done.stdout)
    assert summary["as_of"] == "2026-01-02T00:00:00Z"
    # One day after person a's denial: inside the 72h SLA, so pending, not a gap.
    assert summary["findings_by_kind"].get("suppression_gap", 0) == 0


def test_json_format(mini: Path):
    done = cli("run", str(mini), "--format", "json")
    assert json.loads(done.stdout)["findings_by_kind"]["suppression_gap"] == 2


def test_strict_makes_unmapped_values_an_error(mini: Path):
    done = cli("run", str(mini), "--strict")
    assert done.returncode == 2
    assert "unmapped" in done.stderr and "Traceback" not in done.stderr


def test_validate_ok(mini: Path):
    done = cli("validate", str(mini))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_validate_reports_every_problem(mini: Path):
    text = mini.read_text()
    text = text.replace("column: Status", "column: Statuz").replace(
        "column: changed", "column: chnged"
    )
    text = text.replace("policy:\n", "policy:\n  latency_slaa: 3h\n", 1)
    mini.write_text(text)
    done = cli("validate", str(mini))
    assert done.returncode == 2
    assert "latency_slaa" in done.stderr and "unknown key" in done.stderr
    mini.write_text(text.replace("\n  latency_slaa: 3h", ""))
    done = cli("validate", str(mini))
    assert done.returncode == 2
    assert "'Statuz'" in done.stderr and "'chnged'" in done.stderr
    assert "2 problem(s)" in done.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("systems:", "systemz:"), "unknown key"),
        (lambda t: t.replace("exports/esp.csv", "exports/missing.csv"), "not found"),
        (lambda t: t.replace("column: Status", "column: Statuz"), "not in the file"),
        (lambda t: t.replace("system: cmp", "system: nope"), "unknown system"),
        (lambda t: t + "  : [\n", "invalid YAML"),
    ],
    ids=["unknown-key", "missing-export", "missing-column", "unknown-authority", "bad-yaml"],
)
def test_errors_are_one_line_exit_2(mini: Path, change, expected):
    mini.write_text(change(mini.read_text()))
    done = cli("run", str(mini))
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert any(name in done.stderr for name in (mini.name, "esp.csv", "cmp.csv", "missing"))


def test_config_errors_name_file_and_line(mini: Path):
    mini.write_text(
        mini.read_text().replace("    paths: exports/esp.csv", "    pathz: exports/esp.csv")
    )
    done = cli("run", str(mini))
    assert done.returncode == 2
    assert f"{mini}:" in done.stderr
    assert "systems.esp.pathz" in done.stderr


def test_bad_as_of_and_usage_errors(mini: Path):
    assert cli("run", str(mini), "--as-of", "yesterday-ish").returncode == 2
    assert cli("run", str(mini), "--format", "xml").returncode == 2
    assert cli("nonsense").returncode == 2


def test_library_result_matches_cli(mini: Path):
    from prefsync_audit import run_audit

    result = run_audit(mini)
    summary = json.loads(cli("run", str(mini), "--format", "json").stdout)
    assert result.findings_by_kind == summary["findings_by_kind"]
    assert result.status.value == summary["status"]


def test_every_command_has_help_with_example_and_is_documented():
    from prefsync_audit.cli import app

    docs = "\n".join(p.read_text() for p in (Path(__file__).parent.parent / "docs").glob("*.md"))
    commands = [(c.name or c.callback.__name__, c.callback) for c in app.registered_commands]
    for group in app.registered_groups:
        commands += [
            (f"{group.name} {c.name or c.callback.__name__}", c.callback)
            for c in group.typer_instance.registered_commands
        ]
    for name, callback in commands:
        assert callback.__doc__ and "Example" in callback.__doc__, name
        assert f"prefsync-audit {name}" in docs, f"{name} is not in docs/"


def test_keeping_or_returning_freed_memory_changes_speed_not_output(mini: Path, tmp_path: Path):
    plain = tmp_path / "plain"
    assert cli("run", str(mini), "--output", str(plain)).returncode == 0
    for flag in ("--keep-freed-memory", "--return-freed-memory"):
        out = tmp_path / flag
        done = cli("run", str(mini), "--output", str(out), flag)
        assert done.returncode == 0
        assert done.stderr == ""  # glibc here: the setting took effect
        for name in ("summary.json", "findings.csv", "report.md", "junit.xml"):
            assert (plain / name).read_bytes() == (out / name).read_bytes(), (flag, name)


def test_workers_change_speed_not_output(tmp_path: Path):
    retail = Path(__file__).parent.parent / "sample_exports" / "retail" / "audit.yaml"
    outputs = {n: tmp_path / f"workers-{n}" for n in ("1", "3")}
    for workers, folder in outputs.items():
        done = cli("run", str(retail), "--output", str(folder), "--workers", workers)
        assert done.returncode == 1 and done.stderr == "", done.stderr  # the demo fails
    for name in ("summary.json", "findings.csv", "report.md", "junit.xml"):
        assert (outputs["1"] / name).read_bytes() == (outputs["3"] / name).read_bytes(), name
    refused = cli("run", str(retail), "--workers", "0")
    assert refused.returncode == 2 and "--workers" in refused.stderr


# The CLI with loading held up (as a large export holds it), telling the test when
# it has started: Ctrl-C then lands in the middle of a run, in a worker's wait.
# SIGINT is given the disposition it has in a terminal's foreground job: a test
# run started in the background by a shell without job control (a CI script's
# `&`, nohup) inherits it ignored, and Python then never raises KeyboardInterrupt.
HELD_UP_RUN = """
import signal, sys, time
from pathlib import Path
import prefsync_audit.audit as audit
from prefsync_audit.cli import main

signal.signal(signal.SIGINT, signal.default_int_handler)
started = Path(sys.argv[1])

def held_up(*args, **kwargs):
    started.write_text("loading")
    time.sleep(60)

audit.load_table = held_up
sys.argv = ["prefsync-audit", *sys.argv[2:]]
main()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_says_interrupted_and_exits_130(mini: Path, tmp_path: Path, workers: str):
    started = tmp_path / "started"
    command = [sys.executable, "-c", HELD_UP_RUN, str(started), "run", str(mini)]
    child = subprocess.Popen(
        [*command, "--output", str(tmp_path / "out"), "--workers", workers],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not started.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists(), child.stderr.read() if child.poll() is not None else "not started"
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130
    assert stderr == "interrupted\n"
    assert not (tmp_path / "out" / "summary.json").exists()


def test_run_sets_up_memory_before_the_audit(mini: Path, tmp_path: Path, monkeypatch):
    # A setting of the whole process: made by the command, before the audit, from
    # the flag given (None: neither) and the exports' size.
    from typer.testing import CliRunner

    import prefsync_audit.cli.run as run_command
    from prefsync_audit.audit import exports_size
    from prefsync_audit.cli import app
    from prefsync_audit.config import load_config

    calls = []
    monkeypatch.setattr(
        run_command, "set_up_memory", lambda keep, size: calls.append((keep, size)) or False
    )
    size = exports_size(load_config(mini))
    for flags, keep in (([], None), (["--return-freed-memory"], False)):
        out = str(tmp_path / f"out{len(calls)}")
        done = CliRunner().invoke(app, ["run", str(mini), "--output", out, *flags])
        assert done.exit_code == 0, done.output
        assert calls[-1] == (keep, size)
    assert len(calls) == 2
