"""Every preset in ``mappings/`` loads as a valid mapping; the presets of this
suite each come with a header, a fixture and a section in docs/presets.md."""

from __future__ import annotations

import re

import pytest

from prefsync_audit.config import presets_dir

from ._canonical import REPO, VENDORS, preset

ALL_PRESETS = sorted(p.stem for p in (REPO / "mappings").glob("*.yaml"))

#: The presets written with the core mapping syntax (tests in this folder).
CORE_PRESETS = [
    "braze-subscription-group-changes",
    "braze-users",
    "hubspot-unsubscribes",
    "intercom-contacts",
    "iterable-users",
    "klaviyo-global-exclusions",
    "onetrust-consent-csv",
    "salesforce-contact",
    "salesforce-contact-point-type-consent",
    "salesforce-individual",
    "salesforce-lead",
    "segment-consent",
    "sendgrid-bounces",
    "sendgrid-global-unsubscribes",
    "sendgrid-group-unsubscribes",
    "sendgrid-spam-reports",
    "twilio-inbound-optouts",
]


def test_presets_are_read_from_the_repository_folder():
    assert presets_dir().resolve() == (REPO / "mappings").resolve()


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_preset_loads_as_a_valid_mapping(name):
    mapping = preset(name)
    assert mapping.preferences
    assert mapping.description


@pytest.mark.parametrize("name", CORE_PRESETS)
def test_core_preset_has_header_fixture_and_docs(name):
    text = (REPO / "mappings" / f"{name}.yaml").read_text(encoding="utf-8")
    header = text.split("\n\n", 1)[0]
    assert header.startswith("# "), "a preset opens with a comment saying what it reads"
    assert "Reads:" in text and "How to get it" in text
    assert [p for p in (VENDORS / name).iterdir() if p.is_file()], "a fixture export"
    docs = (REPO / "docs" / "presets.md").read_text(encoding="utf-8")
    assert re.search(rf"^### `{re.escape(name)}`$", docs, re.MULTILINE), "a docs section"
