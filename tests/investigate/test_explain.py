"""investigate.explain: the policy replayed for one person must decide exactly as
:func:`prefsync_audit.policy.evaluate` does, and name the rule that decided.

Replayed on every policy case (``tests/fixtures/policy_cases``), on the rule cases
in ``cases/rules.yaml`` and on every person and key of the demo.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from prefsync_audit._model import parse_key
from prefsync_audit.config import AuditConfig
from prefsync_audit.investigate.explain import Reason, Rule, explain_key, steps_for_key
from prefsync_audit.policy import KEY, authority_of_keys, evaluate, key_universe

HERE = Path(__file__).parent
POLICY_CASES = HERE.parent / "fixtures" / "policy_cases"
RULE_CASES = HERE / "cases" / "rules.yaml"


def load(paths):
    params = []
    for path in paths:
        for case in yaml.safe_load(path.read_text())["cases"]:
            params.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return params


def make_config(systems, authorities=None, regrant=True):
    mapping = {
        "identifiers": {"email": {"column": "Email"}},
        "preferences": [{"purpose": "marketing", "state": "denied"}],
    }
    return AuditConfig.model_validate(
        {
            "systems": {name: {"paths": [f"{name}.csv"], "mapping": mapping} for name in systems},
            "policy": {
                "authorities": [{"key": k, "system": s} for k, s in (authorities or {}).items()],
                "regrant_requires_evidence": regrant,
            },
        }
    )


def observations_frame(items):
    rows = []
    for record_key, item in enumerate(items):
        purpose, channel, scope = parse_key(item["key"])
        stamp = item.get("updated_at")
        rows.append(
            {
                "person_id": item.get("person_id", 1),
                "record_key": record_key,
                "system": item["system"],
                "purpose": purpose,
                "channel": channel,
                "scope": scope,
                "state": item["state"],
                "updated_at": pd.NaT if stamp is None else pd.Timestamp(stamp),
                "capture_source": item.get("capture_source"),
                "proof": item.get("proof"),
            }
        )
    frame = pd.DataFrame(rows)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    frame["system"] = frame["system"].astype("category")
    return frame


def replay(observations, expected, config, systems):
    """Explain every (person, key) of ``expected``; yield (row, explanation)."""
    authority = authority_of_keys(expected, config)
    by_person = {
        person: frame.to_dict("records")
        for person, frame in observations.groupby("person_id", observed=True)
    }
    for index, row in expected.iterrows():
        key = (row["purpose"], row["channel"], row["scope"])
        mine = by_person.get(row["person_id"], [])
        authority_of_key = authority.loc[index]
        explained = explain_key(
            key,
            steps_for_key(mine, key),
            None if pd.isna(authority_of_key) else authority_of_key,
            config.policy.regrant_requires_evidence,
            systems,
        )
        yield row, explained


def assert_same(row, explained):
    where = f"person {row['person_id']} {'/'.join(row[k] for k in KEY)}"
    assert explained.expected_state == row["expected_state"], where
    deciding = explained.deciding
    if pd.isna(row["deciding_at"]) and pd.isna(row["deciding_system"]):
        assert deciding is None or deciding.updated_at is None, where
    else:
        assert deciding is not None, where
        stamp = row["deciding_at"]
        assert (deciding.updated_at is None and pd.isna(stamp)) or deciding.updated_at == stamp
        assert deciding.system == row["deciding_system"], where


def run_case(case):
    observations = observations_frame(case["observations"])
    systems = sorted(
        set(observations["system"].astype(str)) | set((case.get("authorities") or {}).values())
    )
    config = make_config(
        systems, case.get("authorities"), case.get("regrant_requires_evidence", True)
    )
    persons = pd.DataFrame({"system": [], "person_id": []})
    keys = key_universe(observations, persons, config)
    wanted = pd.DataFrame([{"person_id": 1, **dict(zip(KEY, parse_key(case["key"]), strict=True))}])
    keys = pd.concat([keys, wanted], ignore_index=True).drop_duplicates(ignore_index=True)
    expected = evaluate(observations, keys, config).expected
    return list(replay(observations, expected, config, systems)), parse_key(case["key"])


@pytest.mark.parametrize("case", load([*sorted(POLICY_CASES.glob("*.yaml")), RULE_CASES]))
def test_replay_decides_like_the_policy(case):
    explained, _ = run_case(case)
    assert explained
    for row, explanation in explained:
        assert_same(row, explanation)


@pytest.mark.parametrize("case", load([RULE_CASES]))
def test_rule_that_decided(case):
    explained, key = run_case(case)
    (explanation,) = [e for row, e in explained if e.key == key]
    expect = case["expect"]
    assert explanation.rule == Rule(expect["rule"])
    assert explanation.expected_state == expect["expected_state"]
    decider = explanation.decider
    assert (decider.system if decider else None) == expect["decides"]
    assert explanation.explanation.endswith(".")


def test_every_demo_person_and_key_decides_like_the_run(demo_result):
    observations = demo_result.canonical.observations.copy()
    person_of_record = demo_result.resolution.person_of_record
    observations["person_id"] = person_of_record.reindex(observations["record_key"]).to_numpy()
    expected = demo_result.evaluation.expected
    systems = list(demo_result.config.systems)
    count = 0
    rules = set()
    for row, explanation in replay(observations, expected, demo_result.config, systems):
        assert_same(row, explanation)
        rules.add(explanation.rule)
        count += 1
    assert count == len(expected) > 1000
    # The demo exercises most rules (ties do not occur in it).
    assert {Rule.LATEST, Rule.AUTHORITY, Rule.UNVERIFIED_RESUBSCRIBE} <= rules


def test_reasons_label_each_observation():
    explained, key = run_case(
        {
            "authorities": {"marketing/email": "cmp"},
            "key": "marketing/email",
            "observations": [
                {
                    "system": "cmp",
                    "key": "marketing/email",
                    "state": "granted",
                    "updated_at": "2024-01-01T00:00:00Z",
                },
                {
                    "system": "esp",
                    "key": "marketing/email",
                    "state": "granted",
                    "updated_at": "2024-01-02T00:00:00Z",
                },
                {
                    "system": "crm",
                    "key": "marketing",
                    "state": "denied",
                    "updated_at": "2024-01-03T00:00:00Z",
                },
                {
                    "system": "cmp",
                    "key": "marketing/email",
                    "state": "granted",
                    "updated_at": "2024-01-04T00:00:00Z",
                },
                {
                    "system": "cmp",
                    "key": "marketing/email",
                    "state": "unknown",
                    "updated_at": "2024-01-05T00:00:00Z",
                },
            ],
        }
    )
    (explanation,) = [e for _, e in explained if e.key == key]
    assert [s.reason for s in explanation.steps] == [
        Reason.AUTHORITY_GRANT,
        Reason.NOT_AUTHORITY,
        Reason.DENIAL,
        Reason.UNVERIFIED_REGRANT,
        Reason.NOT_A_STATE,
    ]
    assert [s.counts for s in explanation.steps] == [True, False, True, False, False]
    assert [s.broader for s in explanation.steps] == [False, False, True, False, False]
    assert explanation.deciding is explanation.decider is explanation.steps[2]
    assert explanation.rule == Rule.UNVERIFIED_RESUBSCRIBE
