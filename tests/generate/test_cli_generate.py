"""``prefsync-audit generate`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "prefsync_audit", *args], capture_output=True, text=True
    )


def test_generate_writes_a_scenario_the_audit_can_run(tmp_path: Path):
    done = cli("generate", str(tmp_path), "--persons", "400", "--seed", "3", "--drift",
               "suppression_gap=0.05")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "suppression_gap:" in done.stdout
    document = json.loads((tmp_path / "truth.json").read_text())
    assert document["drift"]["suppression_gap"] == 0.05
    assert "--drift suppression_gap=0.05" in (tmp_path / "audit.yaml").read_text()
    summary = json.loads(cli("run", str(tmp_path / "audit.yaml"), "--format", "json").stdout)
    assert summary["findings_by_kind"] == {
        k: v for k, v in document["expected"]["findings_by_kind"].items() if v
    }


def test_usage_errors_exit_2(tmp_path: Path):
    for args in (
        ["--drift", "nonsense=1"],
        ["--systems", "crm,sms"],
        ["--systems", "cmp,sms"],
        ["--systems", "cmp,braze"],
        ["--format", "xml"],
        ["--persons", "0"],
    ):
        done = cli("generate", str(tmp_path), *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
