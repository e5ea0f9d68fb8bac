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
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


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


def resolve_identities(
    records: pd.DataFrame, identity: IdentityConfig, profiles: dict[str, set[str]]
) -> Resolution:
    """Link records into persons. ``records`` has ``record_key`` 0..n-1 in order."""
    kinds = [k for k in identity.kinds if k in records.columns]
    links = identifier_links(records, kinds, profiles)

    ignored_parts = []
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
    listed = pd.Series(False, index=links.index)
    for kind, kind_patterns in patterns.items():
        if not kind_patterns:
            continue
        in_kind = links["kind"] == kind
        matcher = _ignore_matcher(kind_patterns)
        uniques = pd.unique(links.loc[in_kind, "value"])
        hit = {v for v in uniques if matcher(v)}
        listed |= in_kind & links["value"].isin(hit)
        # The hashes derived from a placeholder would glue the same strangers together.
        if hit and profiles.get(kind):
            apply = apply_email_profile if kind == "email" else apply_phone_profile
            hashed = {sha256_hex(apply(v, profile)) for v in hit for profile in profiles[kind]}
            listed |= (links["kind"] == f"{kind}_sha256") & links["value"].isin(hashed)
    ignored_parts.append(_ignored_summary(links[listed], "placeholder list"))
    links = links[~listed]

    per_value = links.groupby(["kind", "value"], sort=False)["record_key"].transform("size")
    too_common = per_value > identity.max_records_per_value
    ignored_parts.append(
        _ignored_summary(
            links[too_common], f"links more than {identity.max_records_per_value} records"
        )
    )
    links = links[~too_common]

    n_records = len(records)
    value_codes, _ = pd.factorize(links["kind"].astype(str) + "\x1f" + links["value"].astype(str))
    graph = coo_matrix(
        (
            np.ones(len(links), dtype=np.int8),
            (links["record_key"].to_numpy(dtype=np.int64), n_records + value_codes),
        ),
        shape=(n_records + len(np.unique(value_codes)) if len(links) else n_records,) * 2,
    )
    _, labels = connected_components(graph, directed=False)
    component = pd.Series(labels[:n_records])

    ignored = pd.concat(ignored_parts, ignore_index=True)
    ignored = ignored.sort_values(["kind", "value"], ignore_index=True)
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

    conflicts = _conflicts(records, identity.strong_keys, person_of_record)
    return Resolution(
        person_of_record,
        person_anchors,
        ignored,
        conflicts,
        hashed_unmatched(records, person_of_record),
    )


def _ignored_summary(links: pd.DataFrame, reason: str) -> pd.DataFrame:
    summary = links.groupby(["kind", "value"], as_index=False, sort=True)["record_key"].nunique()
    summary = summary.rename(columns={"record_key": "records"})
    summary["reason"] = reason
    return summary


def _anchors(
    records: pd.DataFrame, kinds: list[str], component: pd.Series, ignored: pd.DataFrame
) -> pd.DataFrame:
    parts = []
    for rank, kind in enumerate(kinds):
        present = records[kind].notna().to_numpy()
        values = records[kind].to_numpy()[present]
        # A placeholder (customer_id 0) is shared by strangers: anchoring on it would
        # give their findings the same id. Use it only when nothing else is left.
        placeholders = ignored.loc[ignored["kind"] == kind, "value"].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "component": component.to_numpy()[present],
                    # pandas' hash-based isin: numpy's is quadratic on object arrays.
                    "placeholder": pd.Series(values).isin(placeholders).to_numpy(),
                    "anchor_rank": rank,
                    "anchor_kind": kind,
                    "anchor_value": values,
                }
            )
        )
    every = pd.concat(parts, ignore_index=True)
    every = every.sort_values(
        ["component", "placeholder", "anchor_rank", "anchor_value"], kind="stable"
    )
    return every.drop_duplicates("component").reset_index(drop=True)


def _conflicts(
    records: pd.DataFrame, strong_keys: list[str], person_of_record: pd.Series
) -> pd.DataFrame:
    parts = []
    for kind in strong_keys:
        if kind not in records.columns:
            continue
        values = pd.DataFrame(
            {"person_id": person_of_record.to_numpy(), "value": records[kind].to_numpy()}
        ).dropna()
        distinct = values.drop_duplicates().sort_values(["person_id", "value"])
        grouped = distinct.groupby("person_id")["value"].agg(list)
        grouped = grouped[grouped.map(len) > 1]
        parts.append(
            pd.DataFrame(
                {"person_id": grouped.index.to_numpy(), "kind": kind, "values": grouped.to_numpy()}
            )
        )
    if not parts:
        return pd.DataFrame({"person_id": pd.Series(dtype="int64"), "kind": [], "values": []})
    return pd.concat(parts, ignore_index=True).sort_values(["person_id", "kind"], ignore_index=True)
