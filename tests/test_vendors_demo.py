"""The vendor presets demo (sample_exports/vendors/audit.yaml), end to end."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from prefsync_audit import run_audit
from prefsync_audit.audit import load_canonical
from prefsync_audit.config import load_config
from prefsync_audit.validate import validate_config

DEMO = Path(__file__).resolve().parents[1] / "sample_exports" / "vendors"
CONFIG = DEMO / "audit.yaml"


@pytest.fixture(scope="module")
def result():
    return run_audit(CONFIG)


def anchored(result, kind: str) -> set[tuple[str, str, str]]:
    """(anchor, system, key) of every finding of ``kind``."""
    anchors = result.resolution.anchors.set_index("person_id")["anchor_value"]
    found = result.findings[result.findings["kind"] == kind]
    return {
        (anchors[row.person_id], row.system, f"{row.purpose}/{row.channel}/{row.scope}")
        for row in found.itertuples()
    }


def test_validates_and_accounts_for_every_row(result):
    assert validate_config(CONFIG)[1] == []
    inputs = result.canonical.inputs
    assert len(inputs) == 27  # 24 systems; the Mailchimp export is four files
    assert (
        inputs["rows_read"]
        == inputs["rows_mapped"] + inputs["rows_quarantined"] + inputs["rows_ignored"]
    ).all()
    assert set(inputs["system"]) == set(result.config.systems)


def test_planted_suppression_gaps(result):
    gaps = anchored(result, "suppression_gap")
    planted = {
        # Ana withdrew advertising in Segment.
        ("U-1001", "google_ads", "advertising/*/*"),
        ("U-1001", "meta_ads", "advertising/*/*"),
        # Ben unsubscribed in Mailchimp.
        ("U-1002", "klaviyo", "marketing/email/*"),
        ("U-1002", "hubspot", "marketing/email/*"),
        ("U-1002", "hubspot", "marketing/email/newsletter"),
        ("U-1002", "onetrust", "marketing/email/*"),
        # Expired / withdrawn advertising consent, still in both audiences.
        ("gita.rao@gmail.com", "google_ads", "advertising/*/*"),
        ("gita.rao@gmail.com", "meta_ads", "advertising/*/*"),
        ("ivan.petrov@example.com", "google_ads", "advertising/*/*"),
        ("ivan.petrov@example.com", "meta_ads", "advertising/*/*"),
    }
    assert planted <= gaps
    # Ana's and Dan's earliest opt-outs come from exports without dates (HubSpot's
    # unsubscribes file, Attentive). An untimed observation is older than every timed
    # one (DESIGN §5.3), so it is the deciding denial and every timed grant elsewhere
    # is newer than it: a grant after the opt-out that did not count.
    unverified = anchored(result, "unverified_resubscribe")
    assert {
        ("U-1001", "mailchimp", "marketing/email/*"),
        ("U-1001", "braze", "marketing/email/*"),
        ("U-1001", "sf_contact", "marketing/email/*"),
        ("U-1001", "twilio", "marketing/sms/*"),
        ("dan.wu@example.com", "klaviyo", "marketing/sms/*"),
    } <= unverified
    assert result.status.value == "fail"


def test_hashed_audiences_link_and_count_the_unmatched(result):
    records = result.canonical.records
    person = result.resolution.person_of_record
    anchors = result.resolution.anchors.set_index("person_id")["anchor_value"]
    gita = anchors[anchors == "gita.rao@gmail.com"].index[0]
    systems = set(records.loc[person.to_numpy() == gita, "system"].astype(str))
    # Google links through its Gmail rule, Meta through the plain address.
    assert systems == {"google_ads", "mailchimp", "meta_ads", "onetrust"}
    assert result.resolution.hashed_unmatched.to_dict("records") == [
        {"system": "google_ads", "hashed_records": 5, "unmatched": 1},
        {"system": "meta_ads", "hashed_records": 5, "unmatched": 1},
    ]


def test_the_mailchimp_zip_reads_like_the_folder(tmp_path):
    # A copy beside the configs: exports outside a config's folder need an explicit flag.
    folder = tmp_path / "audience_export_5c1d9e"
    shutil.copytree(DEMO / "mailchimp-audience" / "audience_export_5c1d9e", folder)
    with zipfile.ZipFile(tmp_path / "audience.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for member in sorted(folder.iterdir()):
            zf.write(member, member.name)
    canonical = {}
    for name, path in (("folder", folder), ("zip", tmp_path / "audience.zip")):
        config = tmp_path / f"{name}.yaml"
        config.write_text(
            "systems:\n  mailchimp:\n"
            f"    paths: {path.name}\n    mapping: preset:mailchimp-audience\n"
        )
        canonical[name] = load_canonical(load_config(config))
    assert canonical["zip"].inputs["path"].tolist() == [
        f"audience.zip:{status}_email_audience_export_5c1d9e.csv"
        for status in ("cleaned", "nonsubscribed", "subscribed", "unsubscribed")
    ]
    columns = ["record_key", "purpose", "state", "raw_value", "updated_at", "proof"]
    assert canonical["zip"].observations[columns].equals(canonical["folder"].observations[columns])
    assert (canonical["zip"].inputs["sha256"] == canonical["folder"].inputs["sha256"]).all()
