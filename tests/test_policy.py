"""prefsync_audit.policy: the expected state, driven by YAML cases.

Each file in ``fixtures/policy_cases`` holds ``cases:``, each with an ``id``,
optional ``authorities`` (key → system) and ``regrant_requires_evidence``, the
``key`` to check, one person's ``observations`` and what to ``expect``:
``expected_state``, ``deciding_at``, ``deciding_system`` and each system's
``actual_state`` (systems left out must hold no state for the key).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from prefsync_audit import policy
from prefsync_audit._model import parse_key
from prefsync_audit.config import AuditConfig
from prefsync_audit.policy import (
    authority_of_keys,
    evaluate,
    expand_to_keys,
    key_universe,
)

CASES_DIR = Path(__file__).parent / "fixtures" / "policy_cases"
KEY = ["purpose", "channel", "scope"]


def load_cases():
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            params.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return params


def make_config(systems, authorities=None, regrant=True, must_hold=None):
    mapping = {
        "identifiers": {"email": {"column": "Email"}},
        "preferences": [{"purpose": "marketing", "state": "denied"}],
    }
    return AuditConfig.model_validate(
        {
            "systems": {
                name: {
                    "paths": [f"{name}.csv"],
                    "mapping": mapping,
                    "must_hold": (must_hold or {}).get(name, []),
                }
                for name in sorted(systems)
            },
            "policy": {
                "authorities": [
                    {"key": key, "system": system} for key, system in (authorities or {}).items()
                ],
                "regrant_requires_evidence": regrant,
            },
        }
    )


def utc(value):
    return pd.NaT if value is None else pd.Timestamp(value).tz_convert("UTC")


def observations_frame(items, person_id=1):
    rows = []
    for record_key, item in enumerate(items):
        purpose, channel, scope = parse_key(item["key"])
        rows.append(
            {
                "person_id": item.get("person_id", person_id),
                "system": item["system"],
                "purpose": purpose,
                "channel": channel,
                "scope": scope,
                "state": item["state"],
                "updated_at": utc(item.get("updated_at")),
                "capture_source": item.get("capture_source"),
                "proof": item.get("proof"),
                "record_key": record_key,
            }
        )
    frame = pd.DataFrame(rows)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    frame["system"] = frame["system"].astype("category")
    return frame


def run_case(case):
    observations = observations_frame(case["observations"])
    systems = set(observations["system"].astype(str)) | set(
        (case.get("authorities") or {}).values()
    )
    key = case["key"]
    config = make_config(
        systems,
        case.get("authorities"),
        case.get("regrant_requires_evidence", True),
        must_hold={name: [key] for name in systems},
    )
    persons = observations[["system", "person_id"]].drop_duplicates()
    persons["system"] = persons["system"].astype(str)
    keys = key_universe(observations, persons, config)
    return evaluate(observations, keys, config), parse_key(key)


@pytest.mark.parametrize("case", load_cases())
def test_policy_case(case):
    evaluation, key = run_case(case)
    expect = case["expect"]
    expected = evaluation.expected
    row = expected[(expected[KEY] == list(key)).all(axis=1)]
    assert len(row) == 1, f"one expected row for {key}"
    row = row.iloc[0]
    assert row["expected_state"] == expect["expected_state"]
    if expect["deciding_at"] is None:
        assert pd.isna(row["deciding_at"])
    else:
        assert row["deciding_at"] == utc(expect["deciding_at"])
    if expect["deciding_system"] is None:
        assert pd.isna(row["deciding_system"])
    else:
        assert row["deciding_system"] == expect["deciding_system"]
    states = evaluation.system_states
    states = states[(states[KEY] == list(key)).all(axis=1)]
    actual = dict(zip(states["system"].astype(str), states["actual_state"], strict=True))
    assert actual == expect["actual_state"]


def test_case_ids_are_unique():
    ids = [param.id for param in load_cases()]
    assert len(ids) == len(set(ids)) > 20


def test_persons_are_evaluated_independently():
    observations = observations_frame(
        [
            {
                "person_id": 1,
                "system": "esp",
                "key": "marketing/email",
                "state": "denied",
                "updated_at": "2024-03-02T00:00:00Z",
            },
            {
                "person_id": 2,
                "system": "esp",
                "key": "marketing/email",
                "state": "granted",
                "updated_at": "2024-03-02T00:00:00Z",
            },
            {
                "person_id": 2,
                "system": "cmp",
                "key": "marketing/email",
                "state": "granted",
                "updated_at": "2024-03-01T00:00:00Z",
            },
        ]
    )
    config = make_config({"esp", "cmp"})
    keys = key_universe(observations, pd.DataFrame({"system": [], "person_id": []}), config)
    expected = evaluate(observations, keys, config).expected
    assert expected[["person_id", "expected_state", "deciding_system"]].values.tolist() == [
        [1, "denied", "esp"],
        [2, "granted", "cmp"],
    ]


def random_observations(persons: int, seed: int) -> pd.DataFrame:
    """Several observations per person: keys broad and narrow, every state, ties in
    time, untimed rows, and evidence on some grants."""
    rng = np.random.default_rng(seed)
    n = persons * 4
    keys = ["marketing/email", "marketing/*", "*/*", "advertising/web", "marketing/sms"]
    times = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", None], utc=True)
    items = [
        {
            "person_id": int(person),
            "system": str(system),
            "key": keys[key],
            "state": str(state),
            "updated_at": times[time],
            "capture_source": "Preference Center" if evidence else None,
        }
        for person, system, key, state, time, evidence in zip(
            rng.integers(1, persons + 1, n),
            rng.choice(["crm", "esp", "cmp"], n),
            rng.integers(0, len(keys), n),
            rng.choice(["granted", "denied", "unknown"], n),
            rng.integers(0, len(times), n),
            rng.random(n) < 0.3,
            strict=True,
        )
    ]
    return observations_frame(items)


@pytest.mark.parametrize("workers", [1, 3])
def test_batches_of_persons_evaluate_as_one(monkeypatch, workers):
    observations = random_observations(persons=300, seed=7)
    config = make_config(
        {"crm", "esp", "cmp"}, {"marketing/*": "cmp"}, must_hold={"esp": ["marketing/email"]}
    )
    persons = observations[["system", "person_id"]].drop_duplicates()
    persons["system"] = persons["system"].astype(str)
    keys = key_universe(observations, persons, config)
    whole = evaluate(observations, keys, config)
    monkeypatch.setattr(policy, "BATCH_ROWS", 50)
    batches = list(
        policy._person_batches(observations["person_id"].to_numpy(), keys["person_id"].to_numpy())
    )
    assert len(batches) > 10
    batched = evaluate(observations, keys, config, workers=workers)
    pd.testing.assert_frame_equal(batched.expected, whole.expected)
    pd.testing.assert_frame_equal(batched.system_states, whole.system_states)
    assert whole.expected["expected_state"].nunique() == 3


def test_person_batches_hold_each_person_once_in_order(monkeypatch):
    monkeypatch.setattr(policy, "BATCH_ROWS", 4)
    # Person 9 holds more rows than two batches; person 5 has none, only a key.
    person = np.array([3, 1, 1, 7, 3, 2, 9, 9, 9, 9, 9, 9, 1, 4, 9, 9, 9, 9])
    universe_person = np.array([1, 2, 3, 4, 7, 9, 1, 5])
    batches = list(policy._person_batches(person, universe_person))
    seen_rows, seen_universe, persons_of = [], [], []
    for rows, universe_rows in batches:
        assert (np.diff(rows) > 0).all() and (np.diff(universe_rows) > 0).all()
        seen_rows += rows.tolist()
        seen_universe += universe_rows.tolist()
        persons_of.append(set(person[rows]) | set(universe_person[universe_rows]))
    assert sorted(seen_rows) == list(range(len(person)))
    assert sorted(seen_universe) == list(range(len(universe_person)))
    # No person in two batches; a batch passes BATCH_ROWS only by its last person.
    assert sum(len(p) for p in persons_of) == len(set().union(*persons_of))
    # Persons 1 and 2 (4 rows), then 3, 4, 5 and 7 (4), then 9 alone (10).
    assert [len(rows) for rows, _ in batches] == [4, 4, 10]
    assert [len(rows) for _, rows in batches] == [3, 4, 1]


def test_key_universe_adds_must_hold_keys():
    observations = observations_frame(
        [{"system": "esp", "key": "marketing/email", "state": "denied"}]
    )
    config = make_config({"esp", "crm"}, must_hold={"crm": ["marketing/sms"]})
    persons = pd.DataFrame({"system": ["crm", "crm", "esp"], "person_id": [1, 2, 1]})
    keys = key_universe(observations, persons, config)
    assert sorted(map(tuple, keys.values.tolist())) == [
        (1, "marketing", "email", "*"),
        (1, "marketing", "sms", "*"),
        (2, "marketing", "sms", "*"),
    ]
    expected = evaluate(observations, keys, config).expected
    by_key = {
        (p, c): s
        for p, c, s in expected[["person_id", "channel", "expected_state"]].itertuples(index=False)
    }
    assert by_key == {(1, "email"): "denied", (1, "sms"): "unknown", (2, "sms"): "unknown"}


def test_expand_to_keys_pairs_broader_observations():
    observations = observations_frame(
        [
            {"system": "esp", "key": "marketing", "state": "denied"},
            {"system": "esp", "key": "marketing/email/news", "state": "denied"},
            {"system": "esp", "key": "analytics", "state": "denied"},
        ]
    )
    keys = pd.DataFrame(
        {
            "person_id": [1, 1],
            "purpose": ["marketing", "marketing"],
            "channel": ["email", "*"],
            "scope": ["news", "*"],
        }
    )
    pairs = expand_to_keys(observations, keys)
    got = sorted(pairs[["obs_channel", "channel", "scope", "specificity"]].values.tolist())
    assert got == [["*", "*", "*", 1], ["*", "email", "news", 1], ["email", "email", "news", 3]]


def test_authority_of_keys_most_specific_rule():
    config = make_config(
        {"cmp", "twilio", "esp"},
        {"marketing": "cmp", "marketing/sms": "twilio", "marketing/email/news": "esp"},
    )
    keys = pd.DataFrame(
        {
            "purpose": ["marketing"] * 4 + ["analytics"],
            "channel": ["sms", "email", "email", "*", "web"],
            "scope": ["*", "news", "promo", "*", "*"],
        }
    )
    authority = authority_of_keys(keys, config)
    assert authority.iloc[:4].tolist() == ["twilio", "esp", "cmp", "cmp"]
    assert pd.isna(authority.iloc[4])


def test_authority_updated_at_is_the_authority_latest_time():
    observations = observations_frame(
        [
            {
                "system": "cmp",
                "key": "marketing/email",
                "state": "granted",
                "updated_at": "2024-03-01T00:00:00Z",
            },
            {
                "system": "cmp",
                "key": "marketing/email",
                "state": "denied",
                "updated_at": "2024-03-04T00:00:00Z",
            },
            {
                "system": "esp",
                "key": "marketing/email",
                "state": "denied",
                "updated_at": "2024-03-09T00:00:00Z",
            },
        ]
    )
    config = make_config({"cmp", "esp"}, {"marketing/email": "cmp"})
    keys = key_universe(observations, pd.DataFrame({"system": [], "person_id": []}), config)
    row = evaluate(observations, keys, config).expected.iloc[0]
    assert row["authority_system"] == "cmp"
    assert row["authority_updated_at"] == pd.Timestamp("2024-03-04", tz="UTC")
    assert row["deciding_at"] == pd.Timestamp("2024-03-04", tz="UTC")
