"""Mailchimp audience export: a ZIP (or folder) of per-status CSVs, the status in
the file name."""

from __future__ import annotations

import zipfile
from pathlib import Path

from prefsync_audit.config import IdentityConfig, load_mapping
from prefsync_audit.load import load_file, resolve_paths
from prefsync_audit.mapper import map_file

from ._canonical import VENDORS, counts, observations, preset, quarantine, records

FOLDER = VENDORS / "mailchimp-audience" / "audience_export_5c1d9e"


def map_all(paths: list[Path], mapping=None):
    mapping = mapping or preset("mailchimp-audience")
    result = {}
    for path in paths:
        table = load_file(path, mapping, "mailchimp", path)
        mapped = map_file(table, mapping, IdentityConfig(), strict_columns=True)
        acc = mapped.accounting
        assert (
            acc["rows_read"] == acc["rows_mapped"] + acc["rows_quarantined"] + acc["rows_ignored"]
        )
        result[path.name.split(":")[-1].split("_")[0]] = mapped
    return result


def email(row, state, raw, time, proof=None):
    """An observation of marketing/email/* (no capture source)."""
    return (row, "marketing", "email", "*", state, raw, time, None, proof)


EXPECTED = {
    "subscribed": [
        email(1, "granted", "subscribed", "2023-05-10T14:02:11Z", "198.51.100.23"),
        # Imported: no opt-in or confirmation time, LAST_CHANGED instead; no proof.
        email(2, "granted", "subscribed", "2024-02-10T12:00:00Z"),
        email(3, "granted", "subscribed", "2024-01-20T18:47:30Z", "203.0.113.9"),
    ],
    "unsubscribed": [
        email(1, "denied", "unsubscribed", "2024-02-01T09:18:00Z", "192.0.2.44"),
        email(2, "denied", "unsubscribed", "2024-01-31T23:59:59Z", "192.0.2.80"),
    ],
    # A bounce is not a choice: known to Mailchimp, state unknown.
    "cleaned": [email(1, "unknown", "cleaned", "2024-01-22T03:00:00Z")],
    "nonsubscribed": [email(1, "unknown", "nonsubscribed", "2024-02-15T16:20:00Z")],
}


def test_folder_of_status_files():
    mapped = map_all(resolve_paths([str(FOLDER)], VENDORS, "mailchimp"))
    assert sorted(mapped) == ["cleaned", "nonsubscribed", "subscribed", "unsubscribed"]
    for status, expected in EXPECTED.items():
        assert observations(mapped[status]) == expected, status
    assert records(mapped["subscribed"], "email") == [
        (1, "3f8a1c2b9d", "ana.lima@example.com"),
        (2, "7b1e0d4c5a", "carla.mendes@example.org"),
        (3, "c2d9e8f7a6", "gita.rao@gmail.com"),
    ]
    # A member without an email address cannot be audited.
    assert counts(mapped["nonsubscribed"]) == (2, 1, 1, 0)
    assert quarantine(mapped["nonsubscribed"]) == [(2, "no identifier")]


def test_the_zip_as_mailchimp_sends_it(tmp_path):
    archive = tmp_path / "audience_export_5c1d9e.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for member in sorted(FOLDER.iterdir()):
            zf.write(member, member.name)
    paths = resolve_paths([archive.name], tmp_path, "mailchimp")
    assert [p.name for p in paths] == [
        "audience_export_5c1d9e.zip:cleaned_email_audience_export_5c1d9e.csv",
        "audience_export_5c1d9e.zip:nonsubscribed_email_audience_export_5c1d9e.csv",
        "audience_export_5c1d9e.zip:subscribed_email_audience_export_5c1d9e.csv",
        "audience_export_5c1d9e.zip:unsubscribed_email_audience_export_5c1d9e.csv",
    ]
    mapped = map_all(paths)
    for status, expected in EXPECTED.items():
        assert observations(mapped[status]) == expected, status


def test_cleaned_as_suppression_and_phone_through_extends(tmp_path):
    (tmp_path / "mailchimp.yaml").write_text(
        "extends: preset:mailchimp-audience\n"
        "params: {cleaned: denied}\n"
        "identifiers:\n"
        "  phone: {column: Phone Number}\n"
    )
    mapping = load_mapping("mailchimp.yaml", tmp_path)
    mapped = map_all(resolve_paths([str(FOLDER)], VENDORS, "mailchimp"), mapping)
    assert [o[4] for o in observations(mapped["cleaned"])] == ["denied"]
    assert records(mapped["subscribed"], "email", "phone")[0] == (
        1,
        "3f8a1c2b9d",
        "ana.lima@example.com",
        "+14155550132",
    )
