"""Shared fixtures of the database-source tests."""

from __future__ import annotations

import pytest

from prefsync_audit.audit import AuditResult
from tests.sources._mini import files_result


@pytest.fixture(scope="session")
def mini_files() -> AuditResult:
    """The mini audit read from its CSV files: what every database audit must equal."""
    return files_result()
