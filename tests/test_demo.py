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
#: The sixth source's label: the app's account-settings table, read from a SQLite file.
ACCOUNT_SOURCE = "sqlite:///exports/account_preferences.sqlite#account_preferences"


@pytest.fixture(scope="module")
def result():
    return run_audit(CONFIG)


def test_counts_per_kind(result):
    assert result.findings_by_kind == {
        "identity_conflict": 1,
        "missing_preference": 3,
        "over_suppression": 3,
        "pending_sync": 5,
        "suppression_gap": 15,
        "unconfirmed_grant": 1,
        "unmapped_value": 2,
        "unverified_resubscribe": 2,
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
        "analytics": 1,
        "account": 1,
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
        "exports/cmp_banner_log.jsonl": (84, 83, 1, 0),
        "exports/analytics_users.jsonl": (62, 62, 0, 0),
        ACCOUNT_SOURCE: (40, 40, 0, 0),
    }
    columns = ["rows_read", "rows_mapped", "rows_quarantined", "rows_ignored"]
    actual = {path: tuple(int(v) for v in inputs.loc[path, columns]) for path in expected}
    assert actual == expected
    assert set(inputs.index) == set(expected)


def test_identity(result):
    assert result.identity["persons"] == 325
    assert result.identity["records"] == 1651
    by_system = {
        name: (entry["records"], entry["persons"])
        for name, entry in result.identity["by_system"].items()
    }
    assert by_system == {
        "crm": (292, 291),
        "email": (226, 226),
        "sms": (63, 46),
        "cmp": (792, 265),
        "ads": (93, 93),
        "banner": (83, 69),
        "analytics": (62, 62),
        "account": (40, 40),
    }
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


def _person_of(result, **identifiers):
    """The person_id of the records carrying these (normalized) identifiers."""
    records = result.canonical.records
    match = pd.Series(True, index=records.index)
    for kind, value in identifiers.items():
        match &= records[kind] == value
    persons = set(result.resolution.person_of_record.reindex(records.index[match]))
    assert len(persons) == 1, persons
    return persons.pop()


def test_undecodable_tc_string_is_quarantined_and_counted(result):
    quarantine = result.canonical.quarantine
    banner = quarantine[quarantine["system"] == "banner"]
    assert banner[["source_file", "source_row"]].values.tolist() == [
        ["exports/cmp_banner_log.jsonl", 77]
    ]
    reason = banner["reason"].iloc[0]
    assert reason.startswith("undecodable tcf string in tc_string: ")
    assert "unexpected end of data" in reason
    # Counted once, and the rest of the log (and the run) went on.
    assert len(quarantine) == 3
    assert not result.findings["source_file"].eq("exports/cmp_banner_log.jsonl").any()


def test_every_other_tc_string_decodes():
    from prefsync_audit.errors import SignalDecodeError
    from prefsync_audit.signals import decode_tcf

    failing = []
    lines = (DEMO / "exports" / "cmp_banner_log.jsonl").read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            tc = decode_tcf(json.loads(line)["tc_string"])
        except SignalDecodeError:
            failing.append(number)
        else:
            assert tc.tcf_policy_version == 4 and tc.cmp_id == 4000
    assert failing == [77]


def test_analytics_tool_tracks_after_banner_said_no(result):
    """A32: the banner's TC string dropped purposes 8-9 on 10 Feb; the tool never heard."""
    person = _person_of(result, email="xavier.rahman@parcelpost.example")
    gap = result.findings[
        (result.findings["kind"] == "suppression_gap") & (result.findings["system"] == "analytics")
    ]
    assert gap["person_id"].tolist() == [person]
    row = gap.iloc[0]
    assert (row["purpose"], row["channel"], row["scope"]) == ("analytics", "web", "*")
    assert row["deciding_system"] == "banner"
    assert row["deciding_at"] == pd.Timestamp("2026-02-10T19:42:10.412Z")
    assert row["system_updated_at"] == pd.Timestamp("2025-11-19T10:14:09.877Z")
    assert (row["source_file"], row["source_row"]) == ("exports/analytics_users.jsonl", 41)
    # The banner itself holds the denial: no finding for it, none for anyone else's web keys.
    web = result.findings[result.findings["system"].isin(["banner", "analytics"])]
    assert len(web) == 1


def test_gpc_visitor_is_denied_and_consistent(result):
    """N33: Sec-GPC: 1 denies sale_sharing and advertising; OneTrust agrees, no finding."""
    person = _person_of(result, email="sakura.zeller@mailhub.example")
    expected = result.evaluation.expected.set_index(["person_id", "purpose", "channel", "scope"])
    for key in [("sale_sharing", "*", "*"), ("advertising", "*", "*")]:
        decided = expected.loc[(person, *key)]
        assert decided["expected_state"] == "denied"
        assert decided["deciding_system"] == "banner"
    assert not result.findings["person_id"].eq(person).any()


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
    assert summary["findings"] == 32
    assert summary["quarantine"]["rows"] == 3
    assert summary["unmapped_values"]["rows"] == 2


def test_account_table_is_read_from_its_database(result):
    """The app's settings table: two planted findings (D36, D37), provenance of the query."""
    account = result.findings[result.findings["system"] == "account"]
    rows = account.set_index("kind")
    gap, resubscribe = rows.loc["suppression_gap"], rows.loc["unverified_resubscribe"]
    assert (gap["purpose"], gap["channel"], gap["deciding_system"]) == ("marketing", "email", "cmp")
    assert gap["deciding_at"] == pd.Timestamp("2026-01-10T01:58:42Z")
    assert gap["system_updated_at"] == pd.Timestamp("2025-12-08T20:45:35Z")
    assert (resubscribe["channel"], resubscribe["deciding_system"]) == ("sms", "sms")
    assert resubscribe["system_updated_at"] == pd.Timestamp("2026-01-30T07:42:59Z")
    assert set(account["source_file"]) == {ACCOUNT_SOURCE}


def test_account_provenance_in_summary(result):
    import hashlib

    from prefsync_audit.report.summary import build_summary

    summary = build_summary(result)
    query = 'SELECT * FROM account_preferences ORDER BY "customer_number"'
    assert summary["databases"] == [
        {
            "system": "account",
            "url": "sqlite:///exports/account_preferences.sqlite",
            "table": "account_preferences",
            "query": query,
            "query_sha256": hashlib.sha256(query.encode()).hexdigest(),
            "rows_read": 40,
        }
    ]
    entry = next(i for i in summary["inputs"] if i["system"] == "account")
    assert (entry["path"], entry["sha256"]) == (
        ACCOUNT_SOURCE,
        summary["databases"][0]["query_sha256"],
    )


def test_account_database_rebuilds_the_same(tmp_path, monkeypatch):
    """make_account_db.py derives the table from the other exports, deterministically
    (compared as SQL: the file's header records the SQLite version that wrote it)."""
    import importlib.util
    import sqlite3

    spec = importlib.util.spec_from_file_location("make_account_db", DEMO / "make_account_db.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "TARGET", tmp_path / "account_preferences.sqlite")
    module.write(module.rows())

    def dump(path):
        with sqlite3.connect(path) as db:
            return list(db.iterdump())

    assert dump(tmp_path / "account_preferences.sqlite") == dump(
        DEMO / "exports" / "account_preferences.sqlite"
    )


def test_canonical_tables_keep_their_compact_dtypes(result):
    """Repeated text categorical, ids as Arrow text: at a million persons these
    halve the memory of the canonical tables (docs/benchmarks.md)."""
    observations, records = result.canonical.observations, result.canonical.records
    for column in ["system", "purpose", "channel", "scope", "state", "raw_value"]:
        assert isinstance(observations[column].dtype, pd.CategoricalDtype), column
    for column in ["source_column", "capture_source"]:
        assert isinstance(observations[column].dtype, pd.CategoricalDtype), column
    assert list(observations["system"].cat.categories) == list(result.config.systems)
    assert list(observations["state"].cat.categories) == sorted(
        observations["state"].cat.categories
    )
    assert isinstance(observations["proof"].dtype, pd.StringDtype)
    assert isinstance(records["system"].dtype, pd.CategoricalDtype)
    assert isinstance(records["source_file"].dtype, pd.CategoricalDtype)
    assert isinstance(records["record_id"].dtype, pd.StringDtype)
    # Identifiers too: resolution hashes them in Arrow, never as Python strings.
    for kind in ("email", "phone", "customer_id", "email_sha256"):
        assert isinstance(records[kind].dtype, pd.StringDtype), kind
        assert records[kind].notna().any(), kind
    assert str(observations["updated_at"].dtype) == "datetime64[ns, UTC]"
