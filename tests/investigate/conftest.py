"""Shared fixtures of the investigation tests: the demo audited once, and its run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

DEMO = Path(__file__).parent.parent.parent / "sample_exports" / "retail"
CONFIG = DEMO / "audit.yaml"


@pytest.fixture(scope="session")
def demo_result():
    """The demo retailer, audited in process once for every investigation test."""
    from prefsync_audit import run_audit

    return run_audit(CONFIG)


@pytest.fixture(scope="session")
def demo_source(demo_result):
    from prefsync_audit.investigate import ResultSource

    return ResultSource(demo_result)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """A run folder of the demo written by ``run --output DIR --save-canonical``."""
    from prefsync_audit.cli import app

    folder = tmp_path_factory.mktemp("demo-run")
    done = CliRunner().invoke(
        app, ["run", str(CONFIG), "--output", str(folder), "--save-canonical", "--fail-on", "never"]
    )
    assert done.exit_code == 0, done.output
    return folder


@pytest.fixture(scope="session")
def run_source(demo_run):
    from prefsync_audit.investigate import RunFolderSource

    return RunFolderSource(demo_run)
