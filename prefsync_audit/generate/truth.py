"""The ground truth: DESIGN §5 and §6 applied to what the exports hold.

This is written from DESIGN.md, not from the pipeline: for every person and
preference key it lists the observations each export yields (one *slot* per
possible row), decides which count, the expected state and the deciding change
(§5), each system's own state (the same "latest wins, ties to denied" rule
over its own rows), and classifies the disagreements (§6). Alongside come the
metrics that follow from the same tables (comparisons, mismatches, coverage)
and the input accounting per file.

All of it is vectorized over persons: a key has at most a handful of slots,
stacked into ``(slots, persons)`` matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prefsync_audit.generate._arrays import NA
from prefsync_audit.generate.identities import PLACEHOLDER_EMAILS
from prefsync_audit.generate.rows import SystemRows, usable
from prefsync_audit.generate.scenario import (
    CRM_WEIRD,
    MC_NONE,
    MC_SUBSCRIBED,
    MC_UNSUBSCRIBED,
    P_NONE,
    PHONE_STORE,
    ST_PAUSED,
    TW_SLOTS,
    TW_START,
    TW_STOP,
    Scenario,
)
from prefsync_audit.vocab import FindingKind

UNKNOWN, GRANTED, DENIED = 0, 1, 2
STATE_NAMES = {UNKNOWN: "unknown", GRANTED: "granted", DENIED: "denied"}
#: OneTrust status code (scenario.CMP_STATUSES) → state.
CMP_STATE = np.array([UNKNOWN, GRANTED, DENIED, DENIED, DENIED, DENIED, UNKNOWN, GRANTED, UNKNOWN])

#: The preference keys the generated mappings produce, by name.
KEYS: dict[str, tuple[str, str, str]] = {
    "email": ("marketing", "email", "*"),
    "sms": ("marketing", "sms", "*"),
    "phone": ("marketing", "phone", "*"),
    "all_marketing": ("marketing", "*", "*"),
    "advertising": ("advertising", "*", "*"),
    "analytics": ("analytics", "web", "*"),
    "sale_sharing": ("sale_sharing", "*", "*"),
}
#: ``policy.authorities`` of the generated config.
AUTHORITIES = {"email": "cmp", "sms": "cmp"}
#: ``must_hold`` of the generated config: (system, key).
MUST_HOLD = [("email", "email")]
MISMATCH_KINDS = (
    FindingKind.SUPPRESSION_GAP,
    FindingKind.PENDING_SYNC,
    FindingKind.UNVERIFIED_RESUBSCRIBE,
    FindingKind.OVER_SUPPRESSION,
)
#: Sort value of an observation without a time: older than every timed one.
UNTIMED = -(1 << 40)
_NEVER = np.iinfo(np.int64).max


@dataclass
class Obs:
    """One slot of observations of a key: at most one per person."""

    system: str
    present: np.ndarray
    state: np.ndarray
    time: np.ndarray
    evidence: np.ndarray | bool
    specificity: int
    row: np.ndarray
    """Pre-index of the row the observation comes from."""


@dataclass
class Findings:
    """Planted findings as parallel arrays (one entry per finding)."""

    person: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)
    system: list[np.ndarray] = field(default_factory=list)
    key: list[np.ndarray] = field(default_factory=list)
    row: list[np.ndarray] = field(default_factory=list)
    deciding: list[np.ndarray] = field(default_factory=list)
    system_time: list[np.ndarray] = field(default_factory=list)
    expected: list[np.ndarray] = field(default_factory=list)
    actual: list[np.ndarray] = field(default_factory=list)

    def add(self, person, kind, system, key, row=None, deciding=None, system_time=None,
            expected=None, actual=None) -> None:  # fmt: skip
        n = len(person)

        def full(value, default, dtype=object):
            if value is None:
                return np.full(n, default, dtype=dtype)
            if np.ndim(value) == 0:
                return np.full(n, value, dtype=dtype)
            return np.asarray(value, dtype=dtype)

        self.person.append(np.asarray(person, dtype=np.int64))
        self.kind.append(full(kind, None))
        self.system.append(full(system, None))
        self.key.append(full(key, None))
        self.row.append(full(row, -1, np.int64))
        self.deciding.append(full(deciding, NA, np.int64))
        self.system_time.append(full(system_time, NA, np.int64))
        self.expected.append(full(expected, -1, np.int8))
        self.actual.append(full(actual, -1, np.int8))

    def arrays(self) -> dict[str, np.ndarray]:
        names = ["person", "kind", "system", "key", "row", "deciding", "system_time"]
        names += ["expected", "actual"]
        return {
            name: (np.concatenate(getattr(self, name)) if getattr(self, name) else np.zeros(0))
            for name in names
        }


@dataclass
class Truth:
    findings: dict[str, np.ndarray]
    metrics: dict
    persons: int
    identity_conflicts: int
    ignored_values: int


def key_observations(sc: Scenario, rows: dict[str, SystemRows]) -> dict[str, list[Obs]]:
    """Every slot of observations of every key, from the selected systems."""
    n = sc.n
    out: dict[str, list[Obs]] = {key: [] for key in KEYS}
    if "crm" in rows:
        email_state = np.array([GRANTED, DENIED, UNKNOWN], dtype=np.int8)[sc.crm.flag]
        call_state = np.array([GRANTED, DENIED], dtype=np.int8)[sc.crm.dnc]
        for slot in ("main", "dup"):
            ok, row = usable(sc, "crm", slot), rows["crm"].pre_index(slot, n)
            out["email"].append(Obs("crm", ok, email_state, sc.crm.time, False, 2, row))
            out["phone"].append(Obs("crm", ok, call_state, sc.crm.time, False, 2, row))
    if "email" in rows:
        status = sc.mc.status
        present = (status == MC_SUBSCRIBED) | (status == MC_UNSUBSCRIBED)
        state = np.where(status == MC_SUBSCRIBED, GRANTED, DENIED).astype(np.int8)
        row = rows["email"].pre_index("member", n)
        out["email"].append(Obs("email", present, state, sc.mc.changed, False, 2, row))
    if "sms" in rows:
        for slot in range(TW_SLOTS):
            kind = sc.tw.kind[slot]
            state = np.select([kind == TW_START, kind == TW_STOP], [GRANTED, DENIED], UNKNOWN)
            out["sms"].append(
                Obs(
                    "sms",
                    usable(sc, "sms", f"msg{slot}"),
                    state.astype(np.int8),
                    sc.tw.time[slot],
                    True,  # the mapping gives every text the capture source "SMS keyword"
                    2,
                    rows["sms"].pre_index(f"msg{slot}", n),
                )
            )
    if "cmp" in rows:
        for purpose, key, specificity in (
            ("email", "email", 2),
            ("sms", "sms", 2),
            ("advertising", "advertising", 1),
            ("analytics", "analytics", 2),
            ("sale_sharing", "sale_sharing", 1),
            ("all_marketing", "email", 1),
            ("all_marketing", "sms", 1),
            ("all_marketing", "phone", 1),
            ("all_marketing", "all_marketing", 1),
        ):
            row = sc.cmp[purpose]
            out[key].append(
                Obs(
                    "cmp",
                    usable(sc, "cmp", purpose),
                    CMP_STATE[row.status].astype(np.int8),
                    row.time,
                    (row.point != P_NONE) | row.receipt,
                    specificity,
                    rows["cmp"].pre_index(purpose, n),
                )
            )
    if "ads" in rows:
        out["advertising"].append(
            Obs(
                "ads",
                sc.ads.member,
                np.full(n, GRANTED, dtype=np.int8),
                np.full(n, NA, dtype=np.int64),
                False,
                1,
                rows["ads"].pre_index("member", n),
            )
        )
    return out


def _stack(slots: list[Obs], idx: np.ndarray, attribute: str) -> np.ndarray:
    values = []
    for slot in slots:
        value = getattr(slot, attribute)
        values.append(np.broadcast_to(value, (len(idx),)) if np.ndim(value) == 0 else value[idx])
    return np.stack(values)


def _latest(counting: np.ndarray, order: np.ndarray, denial: np.ndarray) -> np.ndarray:
    """Per person (column), the slot of the latest counting observation; ties to denied."""
    rank = np.where(counting, order * 2 + denial, np.iinfo(np.int64).min)
    return rank.argmax(axis=0)


def evaluate_key(
    slots: list[Obs], key: str, known_to: dict[str, np.ndarray], sc: Scenario
) -> dict[str, np.ndarray]:
    """DESIGN §5 for one key: expected state and deciding change per person.

    ``known_to``: systems that must hold the key → persons they know (their universe).
    """
    specificity = sum(part != "*" for part in KEYS[key])
    in_universe = np.zeros(sc.n, bool)
    for slot in slots:
        if slot.specificity == specificity:  # only an exact observation makes the key
            in_universe |= slot.present
    for known in known_to.values():
        in_universe |= known
    idx = np.flatnonzero(in_universe)
    present = _stack(slots, idx, "present")
    state = _stack(slots, idx, "state")
    times = _stack(slots, idx, "time")
    order = np.where(times == NA, UNTIMED, times)
    evidence = _stack(slots, idx, "evidence")
    spec = np.array([s.specificity for s in slots])[:, None]
    systems = np.array([s.system for s in slots])[:, None]

    known = present & (state != UNKNOWN)
    denial = known & (state == DENIED)
    grant = known & (state == GRANTED)
    authority = AUTHORITIES.get(key)
    counting = denial | (grant & ((systems == authority) if authority else True))
    # A grant later than a counting denial counts only with evidence (§5.2).
    first_denial = np.where(denial, order, _NEVER).min(axis=0)
    counting &= ~(grant & (order > first_denial) & ~evidence)
    # A broader grant never overrides a narrower denial (§5.1).
    narrowest = np.where(counting & denial, spec, -1).max(axis=0)
    counting &= ~(grant & (spec < narrowest))

    any_counting = counting.any(axis=0)
    best = _latest(counting, order, denial)
    columns = np.arange(len(idx))
    expected = np.where(any_counting, state[best, columns], UNKNOWN).astype(np.int8)
    # Deciding change: earliest counting observation of the expected state after
    # the last counting observation of the opposite state (§5.4).
    opposite = counting & (state != expected)
    last_opposite = np.where(opposite, order, UNTIMED - 1).max(axis=0)
    candidate = (
        counting
        & (state == expected)
        & ((order > last_opposite) | ((order == last_opposite) & denial))
    )
    deciding = np.where(candidate, order, _NEVER).min(axis=0)
    deciding = np.where((deciding == _NEVER) | (deciding == UNTIMED), NA, deciding)

    held = {}
    for system in dict.fromkeys(s.system for s in slots):
        mine = systems[:, 0] == system
        own_known = known & mine[:, None]
        own_denial_spec = np.where(own_known & denial, spec, -1).max(axis=0)
        own = own_known & ~(grant & (spec < own_denial_spec))
        latest = _latest(own, order, denial)
        has = own.any(axis=0)
        unknown_only = ~has & (present & mine[:, None]).any(axis=0)
        held[system] = {
            "state": np.select([has, unknown_only], [state[latest, columns], UNKNOWN], -1),
            "time": np.where(has, times[latest, columns], NA),
            "row": np.where(has, _stack(slots, idx, "row")[latest, columns], -1),
        }
    return {"idx": idx, "expected": expected, "deciding": deciding, "held": held}


def classify(
    result: dict, key: str, known_to: dict[str, np.ndarray], sc: Scenario,
    rows: dict[str, SystemRows], findings: Findings, metrics: dict,
) -> None:  # fmt: skip
    """DESIGN §6 for one key: a finding for each system that differs."""
    idx, expected, deciding = result["idx"], result["expected"], result["deciding"]
    key_text = "/".join(KEYS[key])
    entry = metrics["by_key"].setdefault(key_text, {})
    entry["person_keys"] = len(idx)
    entry["expected_known"] = int((expected != UNKNOWN).sum())
    entry["expected_denied"] = int((expected == DENIED).sum())
    overdue = (deciding == NA) | (sc.as_of - deciding > sc.sla)
    for system, held in result["held"].items():
        state, time = held["state"], held["time"]
        both = (state > UNKNOWN) & (expected != UNKNOWN)
        comparisons = metrics["by_system"].setdefault(system, {}).setdefault(key_text, {})
        comparisons["comparisons"] = int(both.sum())
        comparisons["mismatches"] = int((both & (state != expected)).sum())
        gap_like = (expected == DENIED) & (state == GRANTED)
        # Untimed is older than every timed observation (§5.3), also when comparing a
        # system's grant with the deciding denial.
        newer = (time != NA) & ((deciding == NA) | (time > deciding))
        kinds = np.select(
            [
                gap_like & newer,
                gap_like & overdue,
                gap_like,
                (expected == GRANTED) & (state == DENIED),
                (expected == UNKNOWN) & (state == GRANTED),
            ],
            [
                FindingKind.UNVERIFIED_RESUBSCRIBE.value,
                FindingKind.SUPPRESSION_GAP.value,
                FindingKind.PENDING_SYNC.value,
                FindingKind.OVER_SUPPRESSION.value,
                FindingKind.UNCONFIRMED_GRANT.value,
            ],
            "",
        )
        hit = kinds != ""
        findings.add(
            idx[hit], kinds[hit], system, key_text, held["row"][hit], deciding[hit],
            time[hit], expected[hit], state[hit],
        )  # fmt: skip
        if system in known_to:
            missing = known_to[system][idx] & (state == -1)
            where = rows[system].pre_index("member", sc.n)[idx[missing]]
            findings.add(
                idx[missing], FindingKind.MISSING_PREFERENCE.value, system, key_text, where,
                deciding[missing], expected=expected[missing],
            )  # fmt: skip


def ground_truth(sc: Scenario, rows: dict[str, SystemRows]) -> Truth:
    findings = Findings()
    metrics: dict = {"by_key": {}, "by_system": {}}
    known_by_key: dict[str, dict[str, np.ndarray]] = {key: {} for key in KEYS}
    for system, key in MUST_HOLD:
        if system in rows:
            known_by_key[key][system] = sc.mc.status != MC_NONE
    for key, slots in key_observations(sc, rows).items():
        if not slots:
            continue
        result = evaluate_key(slots, key, known_by_key[key], sc)
        classify(result, key, known_by_key[key], sc, rows, findings, metrics)

    conflicts = 0
    if "crm" in rows:
        # Identity conflicts: two customer numbers on one person.
        dup = usable(sc, "crm", "dup")
        findings.add(np.flatnonzero(dup), FindingKind.IDENTITY_CONFLICT.value, None, None)
        conflicts = int(dup.sum())
        # Unmapped values, one finding per row.
        for slot in ("main", "dup"):
            weird = usable(sc, "crm", slot) & (sc.crm.flag == CRM_WEIRD)
            person = np.flatnonzero(weird)
            row = rows["crm"].pre_index(slot, sc.n)[person]
            findings.add(person, FindingKind.UNMAPPED_VALUE.value, "crm", None, row)
    if "cmp" in rows:
        for purpose, cmp_row in sc.cmp.items():
            person = np.flatnonzero(usable(sc, "cmp", purpose) & (cmp_row.status == ST_PAUSED))
            row = rows["cmp"].pre_index(purpose, sc.n)[person]
            findings.add(person, FindingKind.UNMAPPED_VALUE.value, "cmp", None, row)
    return Truth(
        findings=findings.arrays(),
        metrics=metrics,
        persons=int(_persons(sc, rows).sum()),
        identity_conflicts=conflicts,
        ignored_values=_ignored_values(sc, rows),
    )


def _persons(sc: Scenario, rows: dict[str, SystemRows]) -> np.ndarray:
    """Persons with at least one mapped row (each is one person after resolution)."""
    has = np.zeros(sc.n, bool)
    for system, layout in rows.items():
        for block in layout.blocks:
            has |= usable(sc, system, block.slot)
    return has


def _ignored_values(sc: Scenario, rows: dict[str, SystemRows]) -> int:
    """Identifier values the audit must leave out of linking: each placeholder email
    and the shared store phone, each also in hashed form when an audience makes the
    audit derive hashes of plain values."""
    count = 0
    if "crm" in rows:
        forms = 2 if "ads" in rows else 1
        used = np.unique(sc.crm.placeholder[usable(sc, "crm", "main") & (sc.crm.placeholder >= 0)])
        normalized = {PLACEHOLDER_EMAILS[i].strip().lower() for i in used}
        count += forms * len(normalized)
        store = usable(sc, "crm", "main") & (sc.crm.phone == PHONE_STORE)
        if store.sum() > sc.max_records_per_value:
            count += forms
    return count
