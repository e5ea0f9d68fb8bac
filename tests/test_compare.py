"""Findings on a tiny three-system scenario (tests/fixtures/mini): one of each
kind; and the join of system states with expected states."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from prefsync_audit import run_audit
from prefsync_audit.compare import comparisons, person_identifiers
from prefsync_audit.policy import GROUP, Evaluation

MINI = Path(__file__).parent / "fixtures" / "mini" / "audit.yaml"


@pytest.fixture(scope="module")
def result():
    return run_audit(MINI)


def _finding(result, kind, system):
    rows = result.findings[
        (result.findings["kind"] == kind) & (result.findings["system"] == system)
    ]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_counts_per_kind(result):
    assert result.findings_by_kind == {
        "missing_preference": 1,
        "over_suppression": 1,
        "pending_sync": 1,
        "suppression_gap": 2,
        "unconfirmed_grant": 1,
        "unmapped_value": 1,
    }


def test_gap_older_than_sla_is_suppression_gap_with_lag_since_denial(result):
    gaps = result.findings[result.findings["kind"] == "suppression_gap"]
    assert set(gaps["system"]) == {"esp", "ads"}
    esp = _finding(result, "suppression_gap", "esp")
    assert esp["expected_state"] == "denied" and esp["actual_state"] == "granted"
    assert esp["authority_system"] == "cmp" and esp["deciding_system"] == "cmp"
    # 2026-01-01 → as_of 2026-03-01 is 59 days.
    assert esp["lag_seconds"] == 59 * 86400
    assert esp["identifiers"].startswith("email=a***@x.com")
    assert esp["source_file"] == "exports/esp.csv" and esp["source_row"] == 1


def test_hashed_audience_member_is_gap_without_timestamp(result):
    ads = _finding(result, "suppression_gap", "ads")
    assert str(ads["system_updated_at"]) == "NaT"


def test_denial_within_sla_is_pending(result):
    pending = _finding(result, "pending_sync", "esp")
    assert pending["lag_seconds"] == 86400
    assert pending["severity"] == "info"


def test_over_suppression_unconfirmed_missing_unmapped(result):
    assert _finding(result, "over_suppression", "esp")["identifiers"] == "email=b***@x.com"
    assert _finding(result, "unconfirmed_grant", "esp")["expected_state"] == "unknown"
    assert _finding(result, "missing_preference", "esp")["identifiers"] == "email=f***@x.com"
    unmapped = _finding(result, "unmapped_value", "cmp")
    assert unmapped["detail"] == "Status=WEIRD"


def test_unknown_value_never_granted(result):
    observations = result.canonical.observations
    weird = observations[observations["raw_value"] == "WEIRD"]
    assert list(weird["state"]) == ["unknown"]


def test_finding_ids_are_unique_and_stable(result):
    again = run_audit(MINI)
    assert result.findings["finding_id"].is_unique
    assert list(again.findings["finding_id"]) == list(result.findings["finding_id"])


def test_unverified_resubscribe(tmp_path):
    (tmp_path / "cmp.csv").write_text(
        "Email,Status,Date,Source\na@x.com,OPT_OUT,2026-01-01T00:00:00Z,web\n"
    )
    (tmp_path / "esp.csv").write_text(
        "email,phone,optout,changed\na@x.com,,false,2026-02-01T00:00:00Z\n"
    )
    config = MINI.read_text().replace("exports/", "").replace("  ads:\n", "  zz_unused:\n", 0)
    config = config[: config.index("  ads:")] + config[config.index("policy:") :]
    (tmp_path / "audit.yaml").write_text(config)
    result = run_audit(tmp_path / "audit.yaml")
    row = _finding(result, "unverified_resubscribe", "esp")
    assert row["expected_state"] == "denied" and row["actual_state"] == "granted"
    assert row["lag_seconds"] == 31 * 86400


def _evaluation(expected_order, categories=("email", "sms")):
    def key_part(values, cats):
        return pd.Categorical(values, categories=list(cats))

    states = pd.DataFrame(
        {
            "person_id": [1, 1, 1, 2, 3],
            "purpose": key_part(["marketing"] * 5, ["marketing"]),
            "channel": key_part(["email", "email", "sms", "email", "sms"], ["email", "sms"]),
            "scope": key_part([None] * 5, ["news"]),
            "system": ["crm", "esp", "crm", "crm", "crm"],
            "actual_state": ["granted", "denied", "denied", "granted", "granted"],
        }
    )
    expected = pd.DataFrame(
        {
            "person_id": [1, 1, 2],
            "purpose": key_part(["marketing"] * 3, ["marketing"]),
            "channel": key_part(["email", "sms", "email"], categories),
            "scope": key_part([None] * 3, ["news"]),
            "expected_state": pd.Categorical(["denied", "granted", "unknown"]),
            "deciding_at": pd.to_datetime(["2025-01-01", None, "2025-02-01"], utc=True),
        }
    ).iloc[list(expected_order)]
    return Evaluation(expected=expected, system_states=states)


@pytest.mark.parametrize(
    ("order", "categories"),
    [((0, 1, 2), ("email", "sms")), ((2, 0, 1), ("email", "sms")), ((0, 1, 2), ("sms", "email"))],
    ids=["sorted", "unsorted", "other categories"],
)
def test_states_meet_their_expected_state_as_a_left_join(order, categories):
    # By position where the key parts share categories (sorted or not), by pandas'
    # merge where they do not: the same rows, columns and types either way; person
    # 3 has no expected state.
    evaluation = _evaluation(order, categories)
    joined = comparisons(evaluation)
    merged = evaluation.system_states.merge(evaluation.expected, on=GROUP, how="left")
    pd.testing.assert_frame_equal(joined, merged)
    assert joined["expected_state"].isna().tolist() == [False] * 4 + [True]


def test_person_identifiers_summarize_only_the_persons_asked_for():
    # Persons come as findings hold them: floats beside missing values.
    records = pd.DataFrame(
        {
            "email": ["zed@x.com", "amy@x.com", None, "bob@y.com"],
            "phone": [None, "+15550001234", "+15550009999", None],
        }
    )
    person_of_record = pd.Series([1, 1, 3, 2])
    persons = pd.Series([1.0, None, 3.0, 1.0])
    summary = person_identifiers(records, person_of_record, ["email", "phone"], persons)
    assert summary.to_dict() == {
        1.0: "email=a***@x.com phone=+1******1234",
        3.0: "phone=+1******9999",
    }
    empty = person_identifiers(records, person_of_record, ["email"], pd.Series([], dtype=float))
    assert empty.empty
