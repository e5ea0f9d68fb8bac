"""Which rows each system's export holds, before they are put in export order.

A system's rows come in *blocks*, one per slot (Salesforce's main contact, its
conflict duplicate; each OneTrust purpose; each Twilio message…), each block
holding the persons that have that row, in person order. A row's position in
this layout is its *pre-index*; the writers put rows in the vendor's order and
report where each pre-index ended up (file and 1-based data row), which is how
the truth points at ``source_file`` / ``source_row``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prefsync_audit.generate.scenario import (
    CMP_PURPOSES,
    MC_NONE,
    P_RAGGED,
    ST_NONE,
    TW_HELP,
    TW_NONE,
    TW_SLOTS,
    Scenario,
)


@dataclass
class Block:
    slot: str
    persons: np.ndarray
    start: int


@dataclass
class SystemRows:
    """The rows of one system in pre-index order."""

    system: str
    blocks: list[Block] = field(default_factory=list)
    extra: int = 0
    """Rows after the blocks that belong to no person (strangers texting HELP)."""

    def add(self, slot: str, present: np.ndarray) -> None:
        persons = np.flatnonzero(present)
        self.blocks.append(Block(slot, persons, self.person_rows))

    @property
    def person_rows(self) -> int:
        return sum(len(b.persons) for b in self.blocks)

    @property
    def total(self) -> int:
        return self.person_rows + self.extra

    def block(self, slot: str) -> Block:
        return next(b for b in self.blocks if b.slot == slot)

    def pre_index(self, slot: str, n: int) -> np.ndarray:
        """Per person, the pre-index of its ``slot`` row (-1 when it has none)."""
        index = np.full(n, -1, dtype=np.int64)
        block = self.block(slot)
        index[block.persons] = block.start + np.arange(len(block.persons))
        return index

    def person_and_slot(self) -> tuple[np.ndarray, np.ndarray]:
        """Per pre-index: the person (-1 for extra rows) and the block number."""
        persons = np.concatenate([b.persons for b in self.blocks] + [np.full(self.extra, -1)])
        slots = np.concatenate(
            [np.full(len(b.persons), i, dtype=np.int16) for i, b in enumerate(self.blocks)]
            + [np.full(self.extra, -1, dtype=np.int16)]
        )
        return persons.astype(np.int64), slots


def layout(sc: Scenario) -> dict[str, SystemRows]:
    """The rows of every selected system."""
    rows: dict[str, SystemRows] = {}
    if "crm" in sc.systems:
        crm = SystemRows("crm")
        crm.add("main", sc.crm.present)
        crm.add("dup", sc.crm.present & sc.crm.dup)
        rows["crm"] = crm
    if "email" in sc.systems:
        email = SystemRows("email")
        email.add("member", sc.mc.status != MC_NONE)
        rows["email"] = email
    if "sms" in sc.systems:
        sms = SystemRows("sms")
        for slot in range(TW_SLOTS):
            sms.add(f"msg{slot}", sc.tw.kind[slot] != TW_NONE)
        sms.extra = len(sc.help_only)
        rows["sms"] = sms
    if "cmp" in sc.systems:
        cmp = SystemRows("cmp")
        for purpose in CMP_PURPOSES:
            cmp.add(purpose, sc.cmp[purpose].status != ST_NONE)
        rows["cmp"] = cmp
    if "ads" in sc.systems:
        ads = SystemRows("ads")
        ads.add("member", sc.ads.member)
        rows["ads"] = ads
    return rows


def usable(sc: Scenario, system: str, slot: str) -> np.ndarray:
    """Per person: the slot's row exists and the audit maps it (not quarantined or ignored)."""
    if system == "crm":
        present = sc.crm.present & ~sc.crm.bad_time
        return present & sc.crm.dup if slot == "dup" else present
    if system == "email":
        return sc.mc.status != MC_NONE
    if system == "sms":
        kind = sc.tw.kind[int(slot.removeprefix("msg"))]
        return (kind != TW_NONE) & (kind != TW_HELP)
    if system == "cmp":
        row = sc.cmp[slot]
        return (row.status != ST_NONE) & (row.point != P_RAGGED) & (slot != "necessary")
    return sc.ads.member.copy()
