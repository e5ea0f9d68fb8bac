"""End to end on the demo retailer: every planted finding, exactly, and nothing else.

The ledger of planted cases is ``sample_exports/retail/expected_findings.csv``
(written by ``make_demo.py`` beside the exports, explained in ``PLANTED.md``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from prefsync_audit import run_audit

DEMO = Path(__file__).parent.parent / "sample_exports" / "retail"
CONFIG = DEMO / "audit.yaml"


@pytest.fixture(scope="module")
def result():
    return run_audit(CONFIG)


def test_counts_per_kind(result):
    assert result.findings_by_kind == {
        "identity_conflict": 1,
        "missing_preference": 3,
        "over_suppression": 3,
        "pending_sync": 5,
        "suppression_gap": 13,
        "unconfirmed_grant": 1,
        "unmapped_value": 2,
        "unverified_resubscribe": 1,
    }


def test_every_planted_finding_and_no_other(result):
    planted = pd.read_csv(DEMO / "expected_findings.csv", dtype=str, keep_default_na=False)
    key = ["kind", "system", "source_file", "source_row"]
    expected = sorted(planted[key].itertuples(index=False, name=None))
    found = result.findings.copy()
    found["source_row"] = found["source_row"].astype("string").fillna("")
    found = found[key].astype("object").fillna("")
    actual = sorted(tuple(str(v) for v in row) for row in found[key].itertuples(index=False))
    assert actual == expected


def test_gaps_per_system(result):
    gaps = result.findings[result.findings["kind"] == "suppression_gap"]
    assert gaps["system"].value_counts().to_dict() == {
        "crm": 3,
        "email": 3,
        "ads": 3,
        "sms": 2,
        "cmp": 2,
    }


def test_input_accounting(result):
    inputs = result.canonical.inputs.set_index("path")
    expected = {
        "exports/crm_contacts.csv": (293, 292, 1, 0),
        "exports/twilio_optouts.csv": (68, 63, 0, 5),
        "exports/onetrust_consents.csv": (878, 792, 1, 85),
        "exports/customer_match_audience.csv": (93, 93, 0, 0),
        "exports/mailchimp/subscribed_email_audience_export_3f2a.csv": (180, 180, 0, 0),
        "exports/mailchimp/unsubscribed_email_audience_export_3f2a.csv": (43, 43, 0, 0),
        "exports/mailchimp/cleaned_email_audience_export_3f2a.csv": (3, 3, 0, 0),
    }
    columns = ["rows_read", "rows_mapped", "rows_quarantined", "rows_ignored"]
    actual = {path: tuple(int(v) for v in inputs.loc[path, columns]) for path in expected}
    assert actual == expected


def test_identity(result):
    assert result.identity["persons"] == 301
    assert result.identity["records"] == 1466
    ignored = result.resolution.ignored_values
    # The shared placeholder email (and its hash) is never used to link.
    assert set(ignored["kind"]) == {"email", "email_sha256"}
    assert ignored["records"].max() >= 30
    assert len(result.resolution.conflicts) == 1


def test_gmail_dot_rule_matches_hashed_audience(result):
    gaps = result.findings[
        (result.findings["kind"] == "suppression_gap") & (result.findings["system"] == "ads")
    ]
    assert gaps["identifiers"].str.contains("m***@gmail.com", regex=False).sum() == 1


def test_status_and_readiness(result):
    assert result.status.value == "fail"
    assert result.metrics["overall"]["audit_readiness"] == round(293 / 326, 6)


def test_readme_demo_command_exit_code_and_summary(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "prefsync_audit", "run", str(CONFIG), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1  # the demo's thresholds fail on purpose
    assert "Status: FAIL" in done.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["findings"] == 29
    assert summary["quarantine"]["rows"] == 2
    assert summary["unmapped_values"]["rows"] == 2
