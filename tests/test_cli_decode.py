"""``prefsync-audit decode``: kinds guessed from the shape, JSON output, errors exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prefsync_audit.cli import app
from prefsync_audit.signals.detect import detect_kind

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1YNN", "usp"),
        ("Sec-GPC: 1", "gpc"),
        ("true", "gpc"),
        ("ad_storage=granted,analytics_storage=denied", "consent_mode"),
        ('{"ad_storage": "denied"}', "consent_mode"),
        ("DBABTA~1YNN", "gpp"),
        ("DBABLA~BVVVVVVVVWA", "gpp"),
        ("COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA", "tcf"),
    ],
)
def test_detect_kind(text, kind):
    assert detect_kind(text) == kind


def test_decode_json_gpp_usnat_all_opted_out():
    # STANDARDS.md (iabgpp-java): usnat v1, Sale/Sharing/TargetedAdvertising opt-outs = 1.
    done = runner.invoke(app, ["decode", "DBABLA~BVVVVVVVVWA", "--format", "json"])
    assert done.exit_code == 0, done.output
    document = json.loads(done.output)
    assert document["kind"] == "gpp"
    assert document["preferences"] == {"sale_sharing": "denied", "advertising": "denied"}
    assert document["decoded"]["section_ids"] == [7]


def test_decode_text_lists_preferences():
    done = runner.invoke(app, ["decode", "1YYN"])
    assert done.exit_code == 0
    assert "sale_sharing: denied" in done.output


def test_malformed_string_is_an_error_with_position():
    from prefsync_audit.errors import SignalDecodeError

    done = runner.invoke(app, ["decode", "COtybn4PA!zT4Kj"])
    assert isinstance(done.exception, SignalDecodeError)
    assert done.exception.position is not None


def test_unknown_kind_is_an_error():
    done = runner.invoke(app, ["decode", "1YNN", "--kind", "ccpa"])
    assert done.exception is not None and "must be one of" in str(done.exception)
