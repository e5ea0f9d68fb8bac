"""Remediation files: one per system, keyed the way that system keys, owner-only."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import stat
from pathlib import Path

import pytest

from prefsync_audit.audit import AuditResult, run_audit
from prefsync_audit.normalize import apply_email_profile
from prefsync_audit.remediation import DETAIL_COLUMNS, build_remediation, write_remediation

ROOT = Path(__file__).parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"
E164 = re.compile(r"^\+[1-9]\d{9,14}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def demo() -> AuditResult:
    return run_audit(ROOT / "sample_exports" / "retail" / "audit.yaml")


@pytest.fixture(scope="module")
def files(demo: AuditResult) -> dict:
    return {f.system: f for f in build_remediation(demo)}


def remediated(result: AuditResult, system: str) -> set[str]:
    rows = result.findings.query(
        "system == @system and kind in ('suppression_gap', 'unverified_resubscribe')"
    )
    return set(rows["finding_id"])


def test_one_file_per_system_with_gaps(demo: AuditResult, files: dict):
    expected = [s for s in demo.config.systems if remediated(demo, s)]
    assert list(files) == expected
    for system, item in files.items():
        assert set(item.rows["finding_id"]) == remediated(demo, system)
        assert list(item.rows.columns[-len(DETAIL_COLUMNS) :]) == DETAIL_COLUMNS


def test_email_platform_keyed_on_its_email_and_member_id(files: dict):
    mailchimp = files["email"]
    assert mailchimp.action == "opt_out"
    assert mailchimp.keyed_on == ["record_id", "email"]
    assert list(mailchimp.rows.columns[:2]) == ["EUID", "Email Address"]
    for email in mailchimp.rows["Email Address"]:
        assert email == email.strip().lower() and "@" in email
    kinds = set(mailchimp.rows["finding_kind"])
    assert kinds == {"suppression_gap", "unverified_resubscribe"}
    resub = mailchimp.rows[mailchimp.rows["finding_kind"] == "unverified_resubscribe"].iloc[0]
    assert "without evidence of consent" in resub["reason"]


def test_sms_platform_keyed_on_e164(files: dict):
    twilio = files["sms"]
    assert twilio.keyed_on == ["phone"]
    assert list(twilio.rows.columns[:1]) == ["From"]
    assert all(E164.match(number) for number in twilio.rows["From"])
    assert set(twilio.rows["channel"]) == {"sms"}
    # A number that texted several times is still listed once per finding.
    assert not twilio.rows.duplicated(["From", "finding_id"]).any()


def test_ad_audience_removal_list_uses_the_platforms_hash(demo: AuditResult, files: dict):
    ads = files["ads"]
    assert ads.action == "remove"
    assert ads.keyed_on == ["email_sha256", "phone_sha256"]
    assert list(ads.rows.columns[:2]) == ["Email", "Phone"]
    hashes = [h for h in ads.rows["Email"].tolist() + ads.rows["Phone"].tolist() if h]
    assert hashes and all(HEX64.match(h) for h in hashes if isinstance(h, str))
    # The gap matched only through Google's Gmail rule: the file holds the
    # audience's own hash (dots and +tag removed), not the plain email's.
    records = demo.canonical.records
    person = demo.resolution.person_of_record
    gmail = records[records["email"].fillna("").str.endswith("@gmail.com")]
    checked = 0
    for row in ads.rows.itertuples():
        if not isinstance(row.Email, str):
            continue
        ids = records.loc[records["email_sha256"] == row.Email, "record_key"]
        owner = person[ids.iloc[0]]
        plain = gmail[person.reindex(gmail["record_key"]).to_numpy() == owner]["email"]
        for email in plain:
            google = hashlib.sha256(apply_email_profile(email, "google").encode()).hexdigest()
            assert google == row.Email
            checked += 1
    assert checked


def test_crm_keyed_on_record_id_and_every_identifier(files: dict):
    crm = files["crm"]
    assert crm.keyed_on == ["record_id", "customer_id", "email", "phone"]
    assert list(crm.rows.columns[:4]) == ["Id", "Customer_Number__c", "Email", "Phone"]
    assert all(E164.match(p) for p in crm.rows["Phone"].dropna())


def test_reason_and_the_authoritys_timestamp(demo: AuditResult, files: dict):
    cmp = files["cmp"].rows
    gap = demo.findings.set_index("finding_id").loc[cmp["finding_id"].iloc[0]]
    row = cmp.iloc[0]
    assert row["opted_out_via"] == gap["deciding_system"]
    assert row["opted_out_at"] == gap["deciding_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["authority_system"] == "cmp"
    assert row["authority_updated_at"] == gap["authority_updated_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "not applied here after" in row["reason"] and "(SLA 72 hours)" in row["reason"]


def test_written_owner_only_with_a_manifest_and_no_stale_files(tmp_path: Path):
    mini = tmp_path / "mini"
    shutil.copytree(MINI, mini)
    out = tmp_path / "fixes"
    written = write_remediation(run_audit(mini / "audit.yaml"), out)
    assert [p.name for p in written] == [
        "esp-suppressions.csv",
        "ads-suppressions.csv",
        "manifest.json",
    ]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in written[:2]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with (out / "esp-suppressions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # a@x.com's gap; c@x.com is a pending sync (within the SLA): not listed.
    assert [(r["email"], r["phone"], r["action"]) for r in rows] == [
        ("a@x.com", "+12125550123", "opt_out")
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(f["system"], f["rows"], f["keyed_on"]) for f in manifest["files"]] == [
        ("esp", 1, ["email", "phone"]),
        ("ads", 1, ["email_sha256"]),
    ]

    # The ESP and the audience fix it: the next run removes their old files.
    cmp = mini / "exports" / "cmp.csv"
    cmp.write_text(cmp.read_text().replace("a@x.com,OPT_OUT", "a@x.com,ACTIVE"))
    written = write_remediation(run_audit(mini / "audit.yaml"), out)
    assert [p.name for p in written] == ["manifest.json"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


def test_identifiers_are_safe_in_a_spreadsheet_and_numbers_stay_verbatim(tmp_path: Path):
    # A cell a spreadsheet would run as a formula ("=cmd@x.com", valid as an
    # address) is neutralized as in findings.csv; plain numbers such as E.164
    # "+1…" are never evaluated, so they stay exactly as the importer needs them.
    mini = tmp_path / "mini"
    shutil.copytree(MINI, mini)
    config = mini / "audit.yaml"
    esp = mini / "exports" / "esp.csv"
    esp.write_text(esp.read_text().replace("A@x.com ", "=cmd@x.com"))
    cmp = mini / "exports" / "cmp.csv"
    cmp.write_text(cmp.read_text().replace("a@x.com", "=cmd@x.com"))
    item = next(f for f in build_remediation(run_audit(config)) if f.system == "esp")
    assert item.rows["email"].tolist() == ["'=cmd@x.com"]
    assert item.rows["phone"].tolist() == ["+12125550123"]
