"""Consent-string columns in mappings: decoded per purpose, undecodable rows quarantined."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from prefsync_audit import run_audit
from prefsync_audit.mapper_signals import decode_cell, signal_taxonomy
from prefsync_audit.mapping import PreferenceRule, SignalSpec

FIXTURE = Path(__file__).parent / "fixtures" / "signals" / "audit.yaml"
# iabtcf-java TCStringV2Test: purpose consents {2, 10}, special feature 1.
TC_PURPOSES_2_10 = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"


@pytest.fixture(scope="module")
def result():
    return run_audit(FIXTURE)


def _states(result, record_key):
    rows = result.canonical.observations
    rows = rows[rows["record_key"] == record_key]
    return {(r.purpose, r.channel): r.state for r in rows.itertuples()}


def test_tcf_string_gives_one_observation_per_kept_purpose(result):
    # Purpose 8/9 (analytics) and 2-4,7 (advertising) are not all consented: denied.
    assert _states(result, 0) == {("analytics", "web"): "denied", ("advertising", "web"): "denied"}


def test_gpc_flag_denies_sale_sharing_and_advertising(result):
    assert _states(result, 1) == {("sale_sharing", "*"): "denied", ("advertising", "*"): "denied"}


def test_undecodable_string_is_quarantined_with_reason(result):
    quarantine = result.canonical.quarantine
    assert list(quarantine["source_row"]) == [3]
    assert quarantine["reason"].iloc[0].startswith("undecodable tcf string in tc:")
    assert "position" in quarantine["reason"].iloc[0]
    inputs = result.canonical.inputs.iloc[0]
    assert (inputs.rows_read, inputs.rows_mapped, inputs.rows_quarantined) == (3, 2, 1)


def test_raw_string_is_kept_as_evidence(result):
    rows = result.canonical.observations
    assert set(rows.loc[rows["record_key"] == 0, "raw_value"]) == {TC_PURPOSES_2_10}


def test_taxonomy_override_changes_the_purpose():
    spec = SignalSpec(column="tc", kind="tcf", taxonomy={"tcf_purposes": {"analytics": [2]}})
    pairs, error = decode_cell(TC_PURPOSES_2_10, spec, signal_taxonomy(spec))
    assert error is None
    assert dict(pairs) == {"analytics": "granted", "precise_geolocation": "granted"}


def test_unknown_taxonomy_field_is_a_config_error():
    with pytest.raises(ValidationError, match="unknown taxonomy field"):
        SignalSpec(column="tc", kind="tcf", taxonomy={"tcf_purpose": {}})


def test_signal_rule_takes_no_purpose():
    with pytest.raises(ValidationError, match="takes its purposes from the string"):
        PreferenceRule(purpose="analytics", signal={"column": "tc", "kind": "tcf"})
    with pytest.raises(ValidationError, match="exactly one of"):
        PreferenceRule(state="denied", signal={"column": "tc", "kind": "tcf"})
