"""Stage 4 — expected state: what each person's preference *should* be.

Opting out must work wherever the person does it; opting back in must be
deliberate and provable. For each person and preference key:

1. every observation of the key or of a broader key (``*``) applies;
2. a denial counts from any system; a grant counts from the key's authority
   (or anywhere when the key names none); with ``regrant_requires_evidence``
   a grant later than a counting denial counts only with a capture source or
   proof; a broader grant never overrides a narrower denial;
3. the expected state is the latest counting observation, ties to denied,
   untimed observations older than every timed one;
4. the deciding change is the earliest counting observation of that state
   after the last counting observation of the opposite state.

The same "latest wins, ties and narrower denials win" rule gives each system's
own state for the key. Everything here is grouped pandas, no loop per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prefsync_audit._model import key_covers
from prefsync_audit.config import AuditConfig
from prefsync_audit.vocab import ANY, State

KEY = ["purpose", "channel", "scope"]
GROUP = ["person_id", *KEY]
#: Sort value of an observation without a time: older than every timed one.
UNTIMED = -1


@dataclass
class Evaluation:
    """Expected and actual states per person and key."""

    expected: pd.DataFrame
    """One row per (person, key): expected_state, deciding_at, deciding_system,
    authority_system, authority_updated_at."""
    system_states: pd.DataFrame
    """One row per (person, key, system) where the system holds the key:
    actual_state, system_updated_at, record_key."""


def key_universe(
    observations: pd.DataFrame, persons_by_system: pd.DataFrame, config: AuditConfig
) -> pd.DataFrame:
    """Every (person, key) to evaluate: keys observed, plus keys a system must hold."""
    observed = observations[GROUP].drop_duplicates()
    parts = [observed]
    for system, settings in config.systems.items():
        persons = persons_by_system.loc[persons_by_system["system"] == system, "person_id"]
        for key in settings.must_hold:
            parts.append(
                pd.DataFrame(
                    {
                        "person_id": persons.to_numpy(),
                        "purpose": key[0],
                        "channel": key[1],
                        "scope": key[2],
                    }
                )
            )
    keys = pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
    return keys.astype({"purpose": "object", "channel": "object", "scope": "object"})


def expand_to_keys(observations: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Pair each observation with every key of its person that it applies to."""
    obs = observations.rename(columns={k: f"obs_{k}" for k in KEY})
    pairs = obs.merge(keys, on="person_id", how="inner")
    applies = np.ones(len(pairs), dtype=bool)
    for part in KEY:
        observed = pairs[f"obs_{part}"].astype("object").to_numpy()
        applies &= (observed == pairs[part].to_numpy()) | (observed == ANY)
    pairs = pairs[applies].reset_index(drop=True)
    pairs["specificity"] = sum(
        (pairs[f"obs_{part}"].astype("object") != ANY).astype("int8") for part in KEY
    )
    return pairs


def authority_of_keys(keys: pd.DataFrame, config: AuditConfig) -> pd.Series:
    """The authority system of each distinct key (most specific matching rule)."""
    distinct = keys[KEY].drop_duplicates()
    authority = {}
    for key in distinct.itertuples(index=False, name=None):
        best, best_specificity = None, -1
        for rule in config.policy.authorities:
            if key_covers(rule.key, key):
                specificity = sum(part != ANY for part in rule.key)
                if specificity > best_specificity:
                    best, best_specificity = rule.system, specificity
        authority[key] = best
    index = pd.MultiIndex.from_frame(keys[KEY])
    return pd.Series(index.map(authority), index=keys.index, dtype="object")


def _order_value(times: pd.Series) -> np.ndarray:
    values = times.astype("int64").to_numpy() if len(times) else np.array([], "int64")
    return np.where(times.isna().to_numpy(), UNTIMED, values)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def _latest(rows: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """The latest row per group; ties go to denied, then a stable order."""
    ordered = rows.sort_values([*group, "t", "is_denial", "system", "record_key"], kind="stable")
    return ordered.drop_duplicates(group, keep="last")


def _drop_overridden_grants(rows: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """A broader grant never overrides a narrower denial."""
    denial_specificity = rows["specificity"].where(rows["is_denial"])
    narrowest_denial = denial_specificity.groupby([rows[g] for g in group]).transform("max")
    overridden = ~rows["is_denial"] & (rows["specificity"] < narrowest_denial.fillna(-1))
    return rows[~overridden]


def evaluate(observations: pd.DataFrame, keys: pd.DataFrame, config: AuditConfig) -> Evaluation:
    """Expected state per (person, key) and each system's state for it.

    ``observations`` has person_id, system, purpose, channel, scope, state,
    updated_at, capture_source, proof and record_key.
    """
    pairs = expand_to_keys(observations, keys)
    pairs["t"] = _order_value(pairs["updated_at"])
    pairs["is_denial"] = (pairs["state"] == State.DENIED).to_numpy()
    known = pairs[pairs["state"].isin([State.GRANTED, State.DENIED])].copy()
    known["authority"] = authority_of_keys(known, config)

    system_states = _system_states(pairs, known)
    expected = _expected(known, keys, config)
    return Evaluation(expected, system_states)


def _system_states(pairs: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    group = [*GROUP, "system"]
    latest = _latest(_drop_overridden_grants(known, group), group)
    states = latest[[*group, "state", "updated_at", "record_key"]].rename(
        columns={"state": "actual_state", "updated_at": "system_updated_at"}
    )
    # A system whose only word on the key is an unknown value holds it as unknown.
    unknown_only = pairs[~pairs["state"].isin([State.GRANTED, State.DENIED])]
    unknown_only = _latest(unknown_only, group)[[*group, "record_key"]]
    unknown_only = unknown_only.merge(states[group], on=group, how="left", indicator=True)
    unknown_only = unknown_only[unknown_only["_merge"] == "left_only"].drop(columns="_merge")
    unknown_only["actual_state"] = State.UNKNOWN.value
    unknown_only["system_updated_at"] = pd.NaT
    states = pd.concat([states, unknown_only], ignore_index=True)
    states["actual_state"] = states["actual_state"].astype("object")
    states["system_updated_at"] = _utc(states["system_updated_at"])
    return states.sort_values(group, ignore_index=True)


def _expected(known: pd.DataFrame, keys: pd.DataFrame, config: AuditConfig) -> pd.DataFrame:
    policy = config.policy
    has_evidence = known["capture_source"].astype("string").str.strip().fillna("").ne("") | known[
        "proof"
    ].astype("string").str.strip().fillna("").ne("")
    from_authority = known["authority"].isna() | (
        known["system"].astype("object") == known["authority"]
    )
    counting = known["is_denial"] | from_authority
    rows = known[counting].copy()
    if policy.regrant_requires_evidence:
        by_group = [rows[g] for g in GROUP]
        first_denial = rows["t"].where(rows["is_denial"]).groupby(by_group).transform("min")
        later_grant = ~rows["is_denial"] & (rows["t"] > first_denial)
        rows = rows[~later_grant | has_evidence[rows.index]]
    rows = _drop_overridden_grants(rows, GROUP)

    decided = _latest(rows, GROUP)[[*GROUP, "state"]].rename(columns={"state": "expected_state"})
    rows = rows.merge(decided, on=GROUP)
    same = rows["state"] == rows["expected_state"]
    last_opposite = rows["t"].where(~same).groupby([rows[g] for g in GROUP]).transform("max")
    last_opposite = last_opposite.fillna(UNTIMED - 1)
    after = same & (
        (rows["t"] > last_opposite) | ((rows["t"] == last_opposite) & rows["is_denial"])
    )
    deciding = rows[after].sort_values([*GROUP, "t", "system", "record_key"], kind="stable")
    deciding = deciding.drop_duplicates(GROUP, keep="first")[[*GROUP, "updated_at", "system"]]
    deciding = deciding.rename(columns={"updated_at": "deciding_at", "system": "deciding_system"})

    expected = keys.merge(decided, on=GROUP, how="left").merge(deciding, on=GROUP, how="left")
    expected["expected_state"] = (
        expected["expected_state"].astype("object").fillna(State.UNKNOWN.value)
    )
    expected["authority_system"] = authority_of_keys(expected, config)
    authority_rows = known[known["system"].astype("object") == known["authority"]]
    authority_time = (
        authority_rows.groupby(GROUP, as_index=False, observed=True)["updated_at"]
        .max()
        .rename(columns={"updated_at": "authority_updated_at"})
    )
    expected = expected.merge(authority_time, on=GROUP, how="left")
    expected["deciding_system"] = expected["deciding_system"].astype("object")
    for column in ("deciding_at", "authority_updated_at"):
        expected[column] = _utc(expected[column])
    return expected.sort_values(GROUP, ignore_index=True)
