"""Stage 3 — resolve identities: which records are the same person.

Records that share any identifier value are one person: the connected
components of the bipartite graph record ↔ identifier value, computed with
scipy over integer codes (no Python loop per row). Plain emails and phones are
also hashed the way each hashed audience hashes them, so an audience of
SHA-256 values joins the plain-text systems.

Placeholder values (``test@test.com``, ``0000000000``) would glue strangers
together, so they are left out of linking: by a configurable list, and by a
guard on how many records one value links. Each value left out is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from prefsync_audit.config import IdentityConfig
from prefsync_audit.normalize import apply_email_profile, apply_phone_profile, sha256_hex

DEFAULT_PLACEHOLDERS: dict[str, list[str]] = {
    "email": [
        "re:^(no-?e?mail|none|null|noreply|no-reply|test|unknown|na|n/a|donotreply)@",
        "re:@(test|example|none|noemail)\\.(com|org|net)$",
    ],
    "phone": ["re:^\\+\\d?(\\d)\\1{6,}$", "re:^\\+1(\\d)\\1{9}$", "re:^\\+?1234567890$"],
    "customer_id": ["re:^(0+|-1|null|none|n/a|unknown|test)$"],
}


def _no_hashed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "system": pd.Series(dtype="object"),
            "hashed_records": pd.Series(dtype="int64"),
            "unmatched": pd.Series(dtype="int64"),
        }
    )


@dataclass
class Resolution:
    """The outcome of identity resolution."""

    person_of_record: pd.Series
    """``person_id`` (int) for each ``record_key`` (the index)."""
    anchors: pd.DataFrame
    """Per person: ``anchor_kind`` and ``anchor_value``, its strongest identifier
    (what finding ids are built from, so they survive re-numbering)."""
    ignored_values: pd.DataFrame
    """Identifier values left out of linking: kind, value, records, reason."""
    conflicts: pd.DataFrame
    """Persons holding several values of a strong key: person_id, kind, values."""
    hashed_unmatched: pd.DataFrame = field(default_factory=lambda: _no_hashed())
    """Per system with hashed identifiers (an ad audience): ``hashed_records``, its records
    holding a ``*_sha256`` identifier, and ``unmatched``, those whose person has no record
    in any other system (the hash matched no one the audit knows)."""


def hash_profiles(mappings: list) -> dict[str, set[str]]:
    """Which (plain kind → profiles) the hashed identifiers of these mappings use."""
    profiles: dict[str, set[str]] = {}
    for mapping in mappings:
        for kind, spec in mapping.identifiers.items():
            if kind.endswith("_sha256"):
                profiles.setdefault(kind.removesuffix("_sha256"), set()).add(spec.profile)
    return profiles


def _ignore_matcher(patterns: list[str]):
    exact = {p for p in patterns if not p.startswith("re:")}
    regexes = [re.compile(p[3:], re.IGNORECASE) for p in patterns if p.startswith("re:")]

    def is_ignored(value: str) -> bool:
        return value in exact or any(r.search(value) for r in regexes)

    return is_ignored


def identifier_links(
    records: pd.DataFrame, kinds: list[str], profiles: dict[str, set[str]]
) -> pd.DataFrame:
    """Long table (record_key, kind, value) of every identifier, hashes derived."""
    parts = []
    for kind in kinds:
        # A record may hold several values of a kind: ``kind``, ``kind#2``… (a
        # mapping identifier with ``repeated: true``); each one links.
        columns = [c for c in records.columns if c == kind or _is_repeat_of(c, kind)]
        for column in columns:
            present = records[["record_key", column]].dropna()
            parts.append(
                pd.DataFrame(
                    {
                        "record_key": present["record_key"].to_numpy(),
                        "kind": kind,
                        "value": present[column].to_numpy(),
                    }
                )
            )
            for profile in sorted(profiles.get(kind, ())):
                apply = apply_email_profile if kind == "email" else apply_phone_profile
                uniques = pd.unique(present[column])
                lookup = {v: sha256_hex(apply(v, profile)) for v in uniques}
                parts.append(
                    pd.DataFrame(
                        {
                            "record_key": present["record_key"].to_numpy(),
                            "kind": f"{kind}_sha256",
                            "value": present[column].map(lookup).to_numpy(),
                        }
                    )
                )
    if not parts:
        return pd.DataFrame({"record_key": pd.Series(dtype="int64"), "kind": [], "value": []})
    links = pd.concat(parts, ignore_index=True)
    # One link per (record, kind, value), found on integer codes rather than strings.
    codes = _Values.of(links).code_of_link
    if not len(codes):
        return links
    pair = links["record_key"].to_numpy(dtype=np.int64) * (codes.max() + 1) + codes
    _, first = np.unique(pair, return_index=True)
    return links.iloc[np.sort(first)].reset_index(drop=True)


def _is_repeat_of(column: str, kind: str) -> bool:
    return column.startswith(kind + "#") and column[len(kind) + 1 :].isdigit()


def hashed_unmatched(records: pd.DataFrame, person_of_record: pd.Series) -> pd.DataFrame:
    """Per system: records with a hashed identifier, and how many matched no other system."""
    hashed_columns = [c for c in records.columns if str(c).split("#")[0].endswith("_sha256")]
    if "system" not in records.columns or not hashed_columns:
        return _no_hashed()
    frame = pd.DataFrame(
        {
            "system": records["system"].astype("object").to_numpy(),
            "person_id": person_of_record.to_numpy(),
            "hashed": records[hashed_columns].notna().any(axis=1).to_numpy(),
        }
    )
    systems_per_person = frame.groupby("person_id")["system"].nunique()
    frame["alone"] = frame["person_id"].map(systems_per_person).to_numpy() == 1
    hashed = frame[frame["hashed"]]
    summary = hashed.groupby("system", sort=True).agg(
        hashed_records=("hashed", "size"), unmatched=("alone", "sum")
    )
    summary = summary.reset_index()
    summary["unmatched"] = summary["unmatched"].astype("int64")
    return summary


@dataclass
class _Values:
    """Every distinct (kind, value) of the links, numbered: linking runs on the codes."""

    kind: np.ndarray
    value: np.ndarray
    code_of_link: np.ndarray

    @classmethod
    def of(cls, links: pd.DataFrame) -> _Values:
        kind_codes, kinds = pd.factorize(links["kind"])
        values = links["value"].to_numpy()
        code_of_link = np.empty(len(links), dtype=np.int64)
        kind_parts, value_parts, offset = [], [], 0
        for index, kind in enumerate(kinds):
            in_kind = kind_codes == index
            codes, uniques = pd.factorize(values[in_kind])
            code_of_link[in_kind] = codes + offset
            kind_parts.append(np.full(len(uniques), kind, dtype=object))
            value_parts.append(np.asarray(uniques, dtype=object))
            offset += len(uniques)
        return cls(
            np.concatenate(kind_parts) if kind_parts else np.array([], object),
            np.concatenate(value_parts) if value_parts else np.array([], object),
            code_of_link,
        )

    def matching(self, kind: str, patterns: list[str]) -> np.ndarray:
        """Codes of this kind's values that match the exact values or ``re:`` patterns."""
        in_kind = np.flatnonzero(self.kind == kind)
        if not len(in_kind) or not patterns:
            return np.array([], dtype=np.int64)
        values = pd.Series(self.value[in_kind], dtype="object")
        hit = values.isin([p for p in patterns if not p.startswith("re:")]).to_numpy(copy=True)
        for pattern in (p[3:] for p in patterns if p.startswith("re:")):
            search = re.compile(pattern, re.IGNORECASE).search
            hit |= np.fromiter((search(v) is not None for v in values), bool, len(values))
        return in_kind[hit]


def _placeholder_patterns(identity: IdentityConfig, kinds: list[str]) -> dict[str, list[str]]:
    # Every configured kind, not only those with a plain column: a listed plain
    # placeholder must still reach an audience that only holds its hash.
    patterns = {kind: list(values) for kind, values in identity.ignore.items()}
    if identity.use_default_ignore:
        for kind, defaults in DEFAULT_PLACEHOLDERS.items():
            patterns.setdefault(kind, []).extend(defaults)
    # A listed plain placeholder is a placeholder in its hashed forms too.
    for kind, values in list(patterns.items()):
        exact = [v for v in values if not v.startswith("re:")]
        if exact and f"{kind}_sha256" in kinds:
            patterns.setdefault(f"{kind}_sha256", []).extend(sha256_hex(v) for v in exact)
    return patterns


def resolve_identities(
    records: pd.DataFrame, identity: IdentityConfig, profiles: dict[str, set[str]]
) -> Resolution:
    """Link records into persons. ``records`` has ``record_key`` 0..n-1 in order."""
    kinds = [k for k in identity.kinds if k in records.columns]
    links = identifier_links(records, kinds, profiles)
    values = _Values.of(links)
    n_values = len(values.value)
    record_of_link = links["record_key"].to_numpy(dtype=np.int64)
    records_per_value = np.bincount(values.code_of_link, minlength=n_values)

    listed = np.zeros(n_values, dtype=bool)
    for kind, kind_patterns in _placeholder_patterns(identity, kinds).items():
        hit = values.matching(kind, kind_patterns)
        listed[hit] = True
        # The hashes derived from a placeholder would glue the same strangers together.
        if len(hit) and profiles.get(kind):
            apply = apply_email_profile if kind == "email" else apply_phone_profile
            hashed = [
                sha256_hex(apply(v, profile))
                for v in values.value[hit]
                for profile in profiles[kind]
            ]
            listed[values.matching(f"{kind}_sha256", hashed)] = True
    too_common = ~listed & (records_per_value > identity.max_records_per_value)
    ignored = pd.concat(
        [
            _ignored_summary(values, records_per_value, listed, "placeholder list"),
            _ignored_summary(
                values,
                records_per_value,
                too_common,
                f"links more than {identity.max_records_per_value} records",
            ),
        ],
        ignore_index=True,
    ).sort_values(["kind", "value"], ignore_index=True)

    usable = ~(listed | too_common)[values.code_of_link]
    n_records = len(records)
    graph = coo_matrix(
        (
            np.ones(int(usable.sum()), dtype=np.int8),
            (record_of_link[usable], n_records + values.code_of_link[usable]),
        ),
        shape=(n_records + n_values,) * 2,
    )
    _, labels = connected_components(graph, directed=False)
    component = pd.Series(labels[:n_records])

    anchors = _anchors(records, kinds, component, ignored)
    # Number persons by their anchor, so ids do not depend on row or file order.
    order = anchors.sort_values(["anchor_rank", "anchor_value", "component"]).reset_index(drop=True)
    person_of_component = pd.Series(np.arange(1, len(order) + 1), index=order["component"])
    person_of_record = component.map(person_of_component).astype("int64")
    person_of_record.index = records["record_key"].to_numpy()
    person_anchors = pd.DataFrame(
        {
            "person_id": person_of_component.to_numpy(),
            "anchor_kind": order["anchor_kind"].to_numpy(),
            "anchor_value": order["anchor_value"].to_numpy(),
        }
    )

    conflicts = _conflicts(records, identity.strong_keys, person_of_record, ignored)
    return Resolution(
        person_of_record,
        person_anchors,
        ignored,
        conflicts,
        hashed_unmatched(records, person_of_record),
    )


def _ignored_summary(
    values: _Values, records_per_value: np.ndarray, mask: np.ndarray, reason: str
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": values.kind[mask],
            "value": values.value[mask],
            "records": records_per_value[mask].astype("int64"),
            "reason": reason,
        }
    )


def _is_ignored(values: np.ndarray, ignored: pd.DataFrame, kind: str) -> np.ndarray:
    """Which of ``values`` (one identifier kind) were left out of linking."""
    left_out = set(ignored.loc[ignored["kind"] == kind, "value"].tolist())
    if not left_out:
        return np.zeros(len(values), dtype=bool)
    # A set lookup per value: pandas' isin falls back to elementwise comparison
    # for a long object array against a short list.
    return np.fromiter((v in left_out for v in values), dtype=bool, count=len(values))


def _anchors(
    records: pd.DataFrame, kinds: list[str], component: pd.Series, ignored: pd.DataFrame
) -> pd.DataFrame:
    """Each component's strongest identifier: the first kind (in strength order) it
    has, and that kind's smallest value. A placeholder (customer_id 0) is shared by
    strangers: anchoring on it would give their findings the same id, so it is used
    only when a component has nothing else."""
    components = component.to_numpy()
    n_components = int(components.max()) + 1 if len(components) else 0
    anchored = np.zeros(n_components, dtype=bool)
    rank = np.full(n_components, -1, dtype=np.int64)
    value = np.empty(n_components, dtype=object)
    for placeholder_pass in (False, True):
        for kind_rank, kind in enumerate(kinds):
            values = records[kind].to_numpy()
            is_placeholder = _is_ignored(values, ignored, kind)
            usable = pd.notna(values) & (is_placeholder == placeholder_pass)
            usable &= ~anchored[components]
            if not usable.any():
                continue
            # Sorted codes: the smallest code is the smallest value.
            codes, uniques = pd.factorize(values[usable], sort=True)
            smallest = pd.Series(codes).groupby(components[usable]).min()
            targets = smallest.index.to_numpy()
            anchored[targets] = True
            rank[targets] = kind_rank
            value[targets] = np.asarray(uniques, dtype=object)[smallest.to_numpy()]
    present = np.flatnonzero(anchored)
    return pd.DataFrame(
        {
            "component": present,
            "anchor_rank": rank[present],
            "anchor_kind": np.asarray(kinds, dtype=object)[rank[present]],
            "anchor_value": value[present],
        }
    )


def _conflicts(
    records: pd.DataFrame,
    strong_keys: list[str],
    person_of_record: pd.Series,
    ignored: pd.DataFrame,
) -> pd.DataFrame:
    parts = []
    person = person_of_record.to_numpy()
    for kind in strong_keys:
        if kind not in records.columns:
            continue
        values = records[kind].to_numpy()
        # A placeholder (customer_id 0) says nothing about who someone is.
        present = pd.notna(values) & ~_is_ignored(values, ignored, kind)
        codes, uniques = pd.factorize(values[present])
        if not len(codes):
            continue
        pairs = np.unique(person[present] * len(uniques) + codes)
        pair_person, pair_code = pairs // len(uniques), pairs % len(uniques)
        persons, counts = np.unique(pair_person, return_counts=True)
        conflicted = np.isin(pair_person, persons[counts > 1])
        if not conflicted.any():
            continue
        frame = pd.DataFrame(
            {
                "person_id": pair_person[conflicted],
                "value": np.asarray(uniques)[pair_code[conflicted]],
            }
        ).sort_values(["person_id", "value"])
        grouped = frame.groupby("person_id")["value"].agg(list)
        parts.append(
            pd.DataFrame(
                {"person_id": grouped.index.to_numpy(), "kind": kind, "values": grouped.to_numpy()}
            )
        )
    if not parts:
        return pd.DataFrame({"person_id": pd.Series(dtype="int64"), "kind": [], "values": []})
    return pd.concat(parts, ignore_index=True).sort_values(["person_id", "kind"], ignore_index=True)
