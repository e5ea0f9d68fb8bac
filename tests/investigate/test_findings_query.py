"""investigate.findings_query: filtering a past run's findings.parquet."""

from __future__ import annotations

import pytest

from prefsync_audit.investigate import InvestigationError, RunFolderError, UnknownSystemError
from prefsync_audit.investigate.findings_query import query_findings


def test_no_filter_returns_every_finding(demo_run, demo_result):
    answer = query_findings(demo_run)
    assert answer.total == answer.matched == len(answer.findings) == len(demo_result.findings)


def test_filters_combine(demo_run):
    answer = query_findings(demo_run, kinds=["suppression_gap"], systems=["ads"])
    assert answer.matched == 3
    assert set(answer.findings["system"]) == {"ads"}
    assert set(answer.findings["kind"]) == {"suppression_gap"}
    several = query_findings(demo_run, kinds=["suppression_gap", "pending_sync"])
    assert set(several.findings["kind"]) == {"suppression_gap", "pending_sync"}
    critical = query_findings(demo_run, severities=["critical"])
    assert set(critical.findings["severity"]) == {"critical"}
    sms = query_findings(demo_run, purposes=["marketing"], systems=["sms"])
    assert sms.matched >= 3 and set(sms.findings["purpose"]) == {"marketing"}


def test_limit_keeps_the_count(demo_run):
    answer = query_findings(demo_run, limit=4)
    assert len(answer.findings) == 4 and answer.matched == answer.total > 4
    document = answer.to_dict()
    assert document["returned"] == 4 and len(document["findings"]) == 4
    assert document["findings"][0]["finding_id"] == answer.findings["finding_id"].iloc[0]


def test_unknown_filter_values_are_errors(demo_run, tmp_path):
    with pytest.raises(InvestigationError, match="unknown kind 'gap'"):
        query_findings(demo_run, kinds=["gap"])
    with pytest.raises(InvestigationError, match="unknown severity 'high'"):
        query_findings(demo_run, severities=["high"])
    with pytest.raises(UnknownSystemError, match="unknown system 'mailchimp'"):
        query_findings(demo_run, systems=["mailchimp"])
    with pytest.raises(RunFolderError, match="no such run folder"):
        query_findings(tmp_path / "missing")
    with pytest.raises(RunFolderError, match=r"findings\.parquet: not found"):
        query_findings(tmp_path)
