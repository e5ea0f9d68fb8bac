"""``prefsync-audit mappings list|show|infer``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from prefsync_audit.cli import app
from prefsync_audit.cli.mappings import mappings_app
from prefsync_audit.config import load_mapping
from prefsync_audit.errors import AuditError, ConfigError
from prefsync_audit.mapping import Mapping
from prefsync_audit.presets import infer, preset_names
from prefsync_audit.validate import validate_config

REPO = Path(__file__).resolve().parents[1]
VENDORS = REPO / "sample_exports" / "vendors"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def test_list_names_every_preset_with_its_params():
    done = invoke("mappings", "list")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    hubspot = next(line for line in lines if line.startswith("hubspot-contacts "))
    assert hubspot.endswith("[params: subscription_types]")
    rows = json.loads(invoke("mappings", "list", "--format", "json").output)
    by_name = {row["name"]: row for row in rows}
    assert by_name["onetrust-data-subjects"]["params"] == ["purposes", "purpose_channels"]
    assert by_name["mailchimp-audience"]["format"] == "csv"


def test_show_prints_the_file_or_the_resolved_mapping():
    done = invoke("mappings", "show", "preset:mailchimp-audience")
    assert done.exit_code == 0
    assert done.output == (REPO / "mappings" / "mailchimp-audience.yaml").read_text()
    resolved = yaml.safe_load(invoke("mappings", "show", "mailchimp-audience", "--resolved").output)
    # params substituted: the cleaned status means what the param says.
    assert resolved["vocabularies"]["mailchimp_status"]["cleaned"] == "unknown"
    Mapping.model_validate(resolved)


def test_show_an_unknown_preset():
    done = invoke("mappings", "show", "mailchimp")
    assert isinstance(done.exception, ConfigError)
    assert "unknown preset 'mailchimp' (known: attentive-subscriptions" in str(done.exception)


@pytest.mark.parametrize(
    ("export", "preset"),
    [
        ("hubspot-contacts/contacts.csv", "hubspot-contacts"),
        ("mailchimp-audience/audience_export_5c1d9e", "mailchimp-audience"),
        ("klaviyo-profiles/profiles_page_1.json", "klaviyo-profiles"),
        ("onetrust-data-subjects/datasubjects_page_0.json", "onetrust-data-subjects"),
        ("google-customer-match/customer_match_upload.csv", "google-customer-match"),
        ("salesforce-contact/Contact_extract.csv", "salesforce-contact"),
        ("iterable-users/data.json", "iterable-users"),
    ],
)
def test_infer_recognizes_a_preset(export, preset):
    result = infer(VENDORS / export)
    assert result.preset is not None and result.preset.name == preset
    assert f"extends: preset:{preset}\n" in result.text


def test_infer_writes_a_draft_that_extends_the_preset(tmp_path):
    out = tmp_path / "mappings" / "hubspot.yaml"
    done = invoke(
        "mappings", "infer", str(VENDORS / "hubspot-contacts" / "contacts.csv"), "-o", str(out)
    )
    assert done.exit_code == 0, done.output
    assert done.output.strip().endswith("preset:hubspot-contacts (100% of its columns found)")
    text = out.read_text()
    assert "#   subscription_types: null" in text
    assert load_mapping("hubspot.yaml", out.parent).extends == "preset:hubspot-contacts"
    again = invoke(
        "mappings", "infer", str(VENDORS / "hubspot-contacts" / "contacts.csv"), "-o", str(out)
    )
    assert isinstance(again.exception, AuditError)
    assert "already exists (use --force" in str(again.exception)


UNKNOWN = """\
Member No;E-mail;Mobile;Newsletter Opt Out;SMS Status;Hard Bounce;Last Updated;Joined
M-1;ana@northwind.test;(415) 555-0132;N;Subscribed;false;2024-01-02 10:00:00;01/02/2023
M-2;ben@northwind.test;;Y;Unsubscribed;true;2024-01-03 10:00:00;01/03/2023
M-3;cleo@northwind.test;212 555 0148;no;Waiting;false;2024-01-04 11:00:00;01/04/2023
"""


def test_infer_drafts_a_commented_mapping_that_validates(tmp_path):
    export = tmp_path / "members.csv"
    export.write_text(UNKNOWN)
    result = infer(export)
    assert result.preset is None
    draft = result.draft
    assert draft.identifiers == {"email": "E-mail", "phone": "Mobile"}
    assert draft.booleans == ["Newsletter Opt Out", "Hard Bounce"]
    assert draft.statuses == {
        "SMS Status": {"Subscribed": "granted", "Unsubscribed": "denied", "Waiting": "unknown"}
    }
    assert draft.timestamps == {"Last Updated": "iso8601", "Joined": "%m/%d/%Y"}
    text = result.text
    assert 'csv: {delimiter: ";"}' in text
    assert "Waiting: unknown  # TODO what does this value mean?" in text
    # The bounce flag is proposed commented out, with the reason.
    assert "  # A deliverability fact, not a choice (DESIGN §2): left out." in text
    mapping = Mapping.model_validate(yaml.safe_load(text))
    assert [r.state.column for r in mapping.preferences] == ["Newsletter Opt Out", "SMS Status"]
    assert mapping.preferences[0].state.invert and mapping.preferences[0].channel == "email"
    (tmp_path / "draft.yaml").write_text(text)
    (tmp_path / "audit.yaml").write_text(
        "systems:\n  crm:\n    paths: members.csv\n    mapping: draft.yaml\n"
    )
    assert validate_config(tmp_path / "audit.yaml")[1] == []


def test_infer_without_identifier_or_preference_leaves_todos(tmp_path):
    export = tmp_path / "odd.json"
    export.write_text(json.dumps({"meta": {}, "results": [{"note": "x", "n": 17}, {"note": "y"}]}))
    text = infer(export).text
    assert "json: {records_path: results}" in text
    assert 'email: {column: "TODO"}' in text
    assert "TODO no column looks like a preference" in text
    Mapping.model_validate(yaml.safe_load(text))
    (tmp_path / "draft.yaml").write_text(text)
    (tmp_path / "audit.yaml").write_text(
        textwrap.dedent(
            """\
            systems:
              x:
                paths: odd.json
                mapping: draft.yaml
            """
        )
    )
    problems = validate_config(tmp_path / "audit.yaml")[1]
    assert problems == [
        f"{export}: key 'TODO' (mapping identifiers.email, system x) appears in no record"
    ]


def test_every_mappings_command_has_an_example():
    for command in mappings_app.registered_commands:
        assert "Example" in (command.callback.__doc__ or ""), command.name
    assert "Example" in (mappings_app.info.help or "")
    docs = (REPO / "docs" / "cli.md").read_text()
    for name in ("list", "show", "infer"):
        assert f"prefsync-audit mappings {name}" in docs
