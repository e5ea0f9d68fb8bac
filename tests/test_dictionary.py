"""prefsync_audit.dictionary and ``prefsync-audit dictionary``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsync_audit.cli import app
from prefsync_audit.config import load_config
from prefsync_audit.dictionary import (
    PreferenceDictionary,
    ValueMeaning,
    build_dictionary,
    render_html,
    render_markdown,
)

VENDORS = Path(__file__).resolve().parents[1] / "sample_exports" / "vendors" / "audit.yaml"


@pytest.fixture(scope="module")
def vendors() -> PreferenceDictionary:
    return build_dictionary(load_config(VENDORS))


def entry(dictionary: PreferenceDictionary, key: str):
    return next(k for k in dictionary.keys if k.key == key)


def uses(dictionary: PreferenceDictionary, key: str, system: str):
    return [u for u in entry(dictionary, key).uses if u.system == system]


def test_key_definition_authority_and_must_hold(vendors):
    email = entry(vendors, "marketing/email/*")
    assert email.definition == (
        "Marketing messages: newsletters, offers and promotions — by email, "
        "for every brand, list and subscription type."
    )
    assert email.authority == "onetrust"
    assert email.must_hold == ("mailchimp",)
    assert [u.system for u in email.uses if u.is_authority] == ["onetrust"]
    ads = entry(vendors, "advertising/*/*")
    assert ads.authority is None
    assert {u.system for u in ads.uses} == {"onetrust", "segment", "google_ads", "meta_ads"}


def test_status_from_the_file_name_with_every_value(vendors):
    (mailchimp,) = uses(vendors, "marketing/email/*", "mailchimp")
    assert mailchimp.source == "the file name (^([a-z]+)_)"
    assert mailchimp.meanings == (
        ValueMeaning("granted", ("subscribed",)),
        ValueMeaning("denied", ("unsubscribed",)),
        ValueMeaning("unknown", ("cleaned", "nonsubscribed", "transactional", "pending")),
        ValueMeaning("ignore", ("archived",)),
    )
    assert mailchimp.timestamp == (
        "the first present of UNSUB_TIME or CLEAN_TIME or CONFIRM_TIME or OPTIN_TIME or "
        "LAST_CHANGED (%Y-%m-%d %H:%M:%S, UTC when no offset)"
    )
    assert mailchimp.evidence == "proof: column CONFIRM_IP"
    assert mailchimp.note == "Mailchimp member status (the export file the member is in)"


def test_inverted_flags_column_patterns_and_params(vendors):
    (flag,) = uses(vendors, "marketing/email/*", "hubspot")
    assert flag.source == "hs_email_optout"
    assert flag.meanings[0].state == "granted" and "false" in flag.meanings[0].values
    (typed,) = uses(vendors, "marketing/email/newsletter", "hubspot")
    assert typed.source == r"every column matching hs_email_optout_(?P<id>\d+), where id = 2188943"


def test_parts_from_one_column_are_listed_together(vendors):
    keys = {k.key for k in vendors.keys if any(u.system == "onetrust" for u in k.uses)}
    # "Email Marketing" is marketing by email, never marketing on the web.
    assert {"marketing/email/*", "marketing/sms/*", "advertising/*/*"} <= keys
    assert "marketing/web/*" not in keys or not uses(vendors, "marketing/web/*", "onetrust")
    (sms,) = uses(vendors, "marketing/sms/*", "onetrust")
    assert sms.source == "Purposes.Status, where Purposes.Name = SMS Marketing"


def test_membership_lists_and_untimed(vendors):
    (google,) = uses(vendors, "advertising/*/*", "google_ads")
    assert google.source == "presence in the export"
    assert google.meanings == (ValueMeaning("granted", ("present in the export",)),)
    assert google.timestamp.startswith("none: untimed")
    listed = uses(vendors, "marketing/email/offers", "iterable")
    assert [u.source for u in listed] == ["id 30144 in the list emailListIds"]


def test_markdown_and_html_escape_what_the_config_says(tmp_path):
    (tmp_path / "audit.yaml").write_text(
        textwrap.dedent(
            """\
            name: "Shop <script>alert(1)</script>"
            systems:
              crm:
                paths: crm.csv
                mapping:
                  identifiers: {email: {column: "E|mail"}}
                  preferences:
                    - description: "opt-out | <b>bold</b>"
                      purpose: marketing
                      channel: email
                      state: {column: "Opt*Out", values: {"Y|N": denied}}
            """
        )
    )
    built = build_dictionary(load_config(tmp_path / "audit.yaml"))
    markdown = render_markdown(built)
    assert "# Shop \\<script\\>alert(1)\\</script\\>: preference dictionary" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| `crm` | Opt"))
    assert row == (
        "| `crm` | Opt\\*Out (opt-out \\| \\<b\\>bold\\</b\\>) | denied: Y\\|N | "
        "none: untimed (older than every timed observation) | none |"
    )
    html = render_html(built)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "opt-out | &lt;b&gt;bold&lt;/b&gt;" in html


def test_cli_prints_or_writes_both_files(tmp_path):
    runner = CliRunner()
    done = runner.invoke(app, ["dictionary", str(VENDORS)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("# Vendor presets demo: preference dictionary\n")
    out = tmp_path / "dictionary"
    done = runner.invoke(app, ["dictionary", str(VENDORS), "--output", str(out)])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        str(out / "preference-dictionary.md"),
        str(out / "preference-dictionary.html"),
    ]
    assert (out / "preference-dictionary.html").read_text().startswith("<!DOCTYPE html>")
