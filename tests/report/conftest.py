"""Audit results shared by the report tests: each scenario is audited once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prefsync_audit.audit import AuditResult, run_audit

ROOT = Path(__file__).parent.parent.parent
DEMO = ROOT / "sample_exports" / "retail" / "audit.yaml"
MINI = ROOT / "tests" / "fixtures" / "mini"
#: A value no report may ever render as markup.
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def demo_result() -> AuditResult:
    return run_audit(DEMO)


@pytest.fixture(scope="session")
def mini_result() -> AuditResult:
    return run_audit(MINI / "audit.yaml")


@pytest.fixture(scope="session")
def hostile_result(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    """The mini scenario with markup where a raw value and an identifier go:
    an unmapped status and an email address (valid for the normalizer)."""
    target = tmp_path_factory.mktemp("hostile") / "mini"
    shutil.copytree(MINI, target)
    cmp = target / "exports" / "cmp.csv"
    cmp.write_text(cmp.read_text().replace("WEIRD", f'"{HOSTILE}"'))
    esp = target / "exports" / "esp.csv"
    esp.write_text(esp.read_text().replace("e@x.com", "<img/src=x>|&amp;@x.com"))
    config = target / "audit.yaml"
    config.write_text(
        config.read_text().replace("  esp:\n", "  esp:\n    description: <b>ESP</b>\n")
    )
    return run_audit(config)
