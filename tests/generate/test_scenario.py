"""What the generator writes: planted cases yield what they intend, fillers nothing,
and the same seed gives the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from prefsync_audit.generate import generate_scenario
from prefsync_audit.generate.truth_file import COLUMNS

EMAIL, SMS, PHONE = "marketing/email/*", "marketing/sms/*", "marketing/phone/*"
ADS = "advertising/*/*"
GAP, PENDING, RESUB = "suppression_gap", "pending_sync", "unverified_resubscribe"


def _all(kind: str, systems: tuple[str, ...], key: str | None) -> set:
    return {(kind, system, key) for system in systems}


#: Every finding a case may yield: (kind, system, key). Cases not listed yield none.
INTENT = {
    "gap_email": _all(GAP, ("crm", "email", "cmp"), EMAIL),
    "gap_global": _all(GAP, ("crm", "email"), EMAIL) | {(GAP, "crm", PHONE), (GAP, "sms", SMS)},
    "gap_sms": {(GAP, "sms", SMS)},
    "gap_sms_cmp": {(GAP, "cmp", SMS)},
    "gap_ads": {(GAP, "ads", ADS)},
    "pending_email": _all(PENDING, ("crm", "email", "cmp"), EMAIL),
    "pending_global": _all(PENDING, ("crm", "email"), EMAIL)
    | {(PENDING, "crm", PHONE), (PENDING, "sms", SMS)},
    "pending_sms": {(PENDING, "sms", SMS)},
    "pending_sms_cmp": {(PENDING, "cmp", SMS)},
    "pending_ads": {(PENDING, "ads", ADS)},
    "resub_email": _all(RESUB, ("crm", "email", "cmp"), EMAIL),
    "resub_sms": _all(RESUB, ("sms", "cmp"), SMS),
    "over_email": _all("over_suppression", ("crm", "email"), EMAIL),
    "over_sms": {("over_suppression", "sms", SMS)},
    "unconf_email": _all("unconfirmed_grant", ("crm", "email"), EMAIL),
    "unconf_newsletter": {("unconfirmed_grant", "email", EMAIL)},
    "unconf_sms": {("unconfirmed_grant", "sms", SMS)},
    "cleaned": {("missing_preference", "email", EMAIL)},
    "conflict": {("identity_conflict", None, None)},
    "unmapped_crm": {("unmapped_value", "crm", None)},
    "unmapped_cmp": {("unmapped_value", "cmp", None)},
    # DESIGN §5.3: the untimed denial is older than the timed Mailchimp grant.
    "untimed_denial": {(RESUB, "email", EMAIL)},
}


def _key(row) -> str | None:
    return None if row.purpose is None else f"{row.purpose}/{row.channel}/{row.scope}"


def test_each_case_yields_only_what_it_intends(heavy_drift: Path):
    truth = pq.read_table(heavy_drift / "truth.parquet").to_pandas()
    truth = truth.astype(object).where(truth.notna(), None)
    for row in truth.itertuples():
        found = (row.kind, row.system, _key(row))
        assert found in INTENT.get(row.case, set()), (row.case, found, row.person)


def test_every_planted_person_yields_a_finding(heavy_drift: Path):
    truth = pq.read_table(heavy_drift / "truth.parquet").to_pandas()
    planted = json.loads((heavy_drift / "truth.json").read_text())["planted_cases"]
    persons = truth.groupby("case")["person"].nunique().to_dict()
    for case in INTENT:
        assert planted.get(case, 0) > 0, f"{case} was never planted"
        assert persons.get(case, 0) == planted[case], case


def test_every_finding_kind_and_noise_is_planted(truth, scenario: Path):
    document = json.loads((scenario / "truth.json").read_text())
    assert all(count > 0 for count in document["expected"]["findings_by_kind"].values())
    cases = document["planted_cases"]
    for noise in ("placeholder", "shared_phone", "ads_only", "newsletter", "quarantine_crm"):
        assert cases.get(noise, 0) > 0, noise
    inputs = {entry["path"]: entry for entry in document["expected"]["inputs"]}
    assert inputs["exports/onetrust_consents.csv"]["rows_quarantined"] > 0
    assert inputs["exports/crm_contacts.csv"]["rows_quarantined"] > 0
    assert inputs["exports/twilio_messages.csv"]["rows_ignored"] > 0
    # In-SLA and overdue syncs both occur, and their deciding times say so.
    as_of, sla = document["as_of"], document["latency_sla_seconds"]
    now = pd.Timestamp(as_of, unit="s", tz="UTC")
    waited = {
        kind: (now - truth.loc[truth["kind"] == kind, "deciding_at"]).dt.total_seconds()
        for kind in (GAP, PENDING)
    }
    assert (waited[GAP] > sla).all() and (waited[PENDING] <= sla).all()


def test_truth_file_layout(scenario: Path, truth):
    assert list(truth.columns) == COLUMNS
    metadata = pq.read_schema(scenario / "truth.parquet").metadata
    drift = json.loads(metadata[b"prefsync_audit.drift"])
    assert drift["suppression_gap"] == pytest.approx(0.012)
    rows = truth[truth["kind"] != "identity_conflict"]
    assert rows["source_file"].notna().all() and rows["source_row"].notna().all()
    assert truth["email"].notna().mean() > 0.95


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_same_bytes(tmp_path: Path, fmt: str):
    generate_scenario(tmp_path / "a", persons=1500, seed=9, fmt=fmt)
    generate_scenario(tmp_path / "b", persons=1500, seed=9, fmt=fmt)
    first, second = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert first.keys() == second.keys() and len(first) >= 12
    assert first == second
    generate_scenario(tmp_path / "c", persons=1500, seed=10, fmt=fmt)
    other = _snapshot(tmp_path / "c")
    assert other["truth.parquet"] != first["truth.parquet"]


def test_regenerating_into_the_same_folder_replaces_the_files(tmp_path: Path):
    generate_scenario(tmp_path, persons=300, seed=1, fmt="parquet")
    generate_scenario(tmp_path, persons=300, seed=1, fmt="csv")
    assert not list(tmp_path.rglob("*.parquet"))[1:]  # only truth.parquet is left
    assert (tmp_path / "exports" / "crm_contacts.csv").is_file()
