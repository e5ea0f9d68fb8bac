"""Salesforce presets: Contact, Lead, Individual, ContactPointTypeConsent (Data Loader CSV)."""

from __future__ import annotations

import pytest

from prefsync_audit.config import IdentityConfig
from prefsync_audit.errors import InputError
from prefsync_audit.load import load_file
from prefsync_audit.mapper import map_file

from ._canonical import (
    counts,
    map_fixture,
    observations,
    preset,
    quarantine,
    records,
    unmapped,
)

KINDS = ("email", "phone", "salesforce_individual_id")
ANA_INDIVIDUAL = "0PK5g0000004CzAGAU"
CARLA_INDIVIDUAL = "0PK5g0000004CzCGAU"


def test_contact_flags_identifiers_and_quarantine():
    mapped = map_fixture("salesforce-contact", "Contact_extract.csv")

    assert counts(mapped) == (5, 3, 2, 0)
    assert records(mapped, *KINDS) == [
        (1, "0035g00000A1bCdAAF", "ana.lima@example.com", "+14155550132", ANA_INDIVIDUAL),
        (2, "0035g00000A1bCeAAF", "ben.okafor@example.com", None, None),
        (3, "0035g00000A1bCfAAF", None, "+12125550148", CARLA_INDIVIDUAL),
    ]
    t1, t2, t3 = "2024-01-15T10:30:00Z", "2024-02-01T09:15:00Z", "2024-03-04T16:45:12Z"
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "granted", "false", t1, None, None),
        (1, "marketing", "fax", "*", "granted", "false", t1, None, None),
        (1, "marketing", "phone", "*", "denied", "true", t1, None, None),
        # Ben bounced (IsEmailBounced true): deliverability is not read.
        (2, "marketing", "email", "*", "denied", "true", t2, None, None),
        (2, "marketing", "fax", "*", "denied", "true", t2, None, None),
        (2, "marketing", "phone", "*", "granted", "false", t2, None, None),
        (3, "marketing", "email", "*", "granted", "false", t3, None, None),
        (3, "marketing", "fax", "*", "granted", "false", t3, None, None),
        (3, "marketing", "phone", "*", "granted", "false", t3, None, None),
    ]
    assert quarantine(mapped) == [
        (4, "no usable identifier (invalid values)"),  # Email "n/a", nothing else
        (5, "no identifier"),
    ]
    assert unmapped(mapped) == []


def test_lead_leaves_converted_leads_out():
    mapped = map_fixture("salesforce-lead", "Lead_extract.csv")

    assert counts(mapped) == (3, 2, 0, 1)
    assert records(mapped, *KINDS) == [
        (1, "00Q5g00000B2cDeEAF", "carla.mendes@example.org", "+12125550148", CARLA_INDIVIDUAL),
        (3, "00Q5g00000B2cDgEAF", "david.chen@example.net", None, None),
    ]
    t1, t3 = "2024-03-04T16:45:12Z", "2024-02-21T07:05:00Z"
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "true", t1, None, None),
        (1, "marketing", "fax", "*", "granted", "false", t1, None, None),
        (1, "marketing", "phone", "*", "granted", "false", t1, None, None),
        (3, "marketing", "email", "*", "granted", "false", t3, None, None),
        (3, "marketing", "fax", "*", "granted", "false", t3, None, None),
        (3, "marketing", "phone", "*", "denied", "true", t3, None, None),
    ]
    assert quarantine(mapped) == []


def test_individual_objections_deny_and_unticked_boxes_say_nothing():
    mapped = map_fixture("salesforce-individual", "Individual_extract.csv")

    assert counts(mapped) == (4, 4, 0, 0)
    assert records(mapped, "salesforce_individual_id") == [
        (1, ANA_INDIVIDUAL, ANA_INDIVIDUAL),
        (2, "0PK5g0000004CzBGAU", "0PK5g0000004CzBGAU"),
        (3, CARLA_INDIVIDUAL, CARLA_INDIVIDUAL),
        # Dan has every box unticked: a record, no observation.
        (4, "0PK5g0000004CzDGAU", "0PK5g0000004CzDGAU"),
    ]
    t2 = "2024-02-02T10:00:00Z"
    assert observations(mapped) == [
        (1, "marketing", "*", "*", "denied", "true", "2024-01-20T11:00:00Z", None, None),
        (2, "analytics", "web", "*", "denied", "true", t2, None, None),
        (2, "personalization", "*", "*", "denied", "true", t2, None, None),
        (2, "precise_geolocation", "*", "*", "denied", "true", t2, None, None),
        # Don't Process: every purpose.
        (3, "*", "*", "*", "denied", "true", "2024-03-05T09:30:00Z", None, None),
    ]
    assert unmapped(mapped) == []


def test_contact_point_type_consent_long_layout():
    mapped = map_fixture(
        "salesforce-contact-point-type-consent", "ContactPointTypeConsent_extract.csv"
    )

    assert counts(mapped) == (6, 6, 0, 0)
    assert [r[2] for r in records(mapped, "salesforce_individual_id")] == [
        ANA_INDIVIDUAL,
        ANA_INDIVIDUAL,
        "0PK5g0000004CzBGAU",
        CARLA_INDIVIDUAL,
        CARLA_INDIVIDUAL,
        "0PK5g0000004CzDGAU",
    ]
    t1, t2, t4, t6 = (
        "2023-05-10T14:00:00Z",
        "2024-01-18T09:00:00Z",
        "2022-12-01T00:00:00Z",
        "2024-02-10T10:00:00Z",
    )
    double_opt_in = "2023-05-10T14:05:00.000Z"
    assert observations(mapped) == [
        # The double opt-in confirmation date is the proof.
        (1, "marketing", "email", "*", "granted", "OptIn", t1, "Web Form", double_opt_in),
        (2, "marketing", "email", "*", "denied", "OptOut", t2, "Preference Center", None),
        # Row 3 is Seen, row 5 NotSeen: no choice, no observation.
        # Row 4 has no CaptureDate: EffectiveFrom stands in.
        (4, "marketing", "mail", "*", "denied", "OptOut", t4, "Data Import", None),
        # EffectiveTo is not read (see the preset).
        (6, "marketing", "web", "*", "granted", "OptIn", t6, "Cookie Banner", None),
    ]
    assert unmapped(mapped) == []


def test_capitalised_data_loader_headers_fail_loudly(tmp_path):
    """Old Data Loader versions write HASOPTEDOUTOFEMAIL; the preset names API-case
    headers, so such a file stops with the missing columns named (docs/presets.md)."""
    path = tmp_path / "extract.csv"
    path.write_text(
        '"ID","EMAIL","PHONE","INDIVIDUALID","HASOPTEDOUTOFEMAIL","DONOTCALL",'
        '"HASOPTEDOUTOFFAX","LASTMODIFIEDDATE"\n'
        '"0035g00000A1bCdAAF","ana@example.com","","","true","false","false",'
        '"2024-01-15T10:30:00.000Z"\n'
    )
    mapping = preset("salesforce-contact")
    table = load_file(path, mapping, "crm", path)
    missing = r"mapped column\(s\) not in the file: Email, Phone, IndividualId"
    with pytest.raises(InputError, match=missing):
        map_file(table, mapping, IdentityConfig(), strict_columns=True)
