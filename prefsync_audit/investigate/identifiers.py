"""Identifiers for investigation: how an analyst's input is normalized, and the
table of every identifier value each record holds (hashes derived as resolve does).

The pipeline links records through the values produced by
:func:`prefsync_audit.resolve.identifier_links`: each record's normalized
identifiers plus, for every hashed audience, the SHA-256 of its plain emails and
phones under that audience's profile. :func:`identifier_table` builds the same
table with one more column, ``via``, saying whether a value is held as such
(``""``) or derived from a plain one (``"email:google"``), so a trace can tell
"this record holds the hash" from "this record's email hashes to it".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prefsync_audit.config import AuditConfig
from prefsync_audit.mask import mask_value
from prefsync_audit.normalize import (
    apply_email_profile,
    apply_phone_profile,
    identifier_normalizer,
    sha256_hex,
)
from prefsync_audit.vocab import DEFAULT_NORMALIZER

#: Every hash profile a platform may use (see ``mapping.HashProfile``).
ALL_PROFILES = ("plain", "google", "meta")
HASH_SUFFIX = "_sha256"
IDENTIFIER_COLUMNS = ["kind", "value", "person_id", "record_key", "via"]
_PERSON = re.compile(r"^\s*person:(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class NormalizerSpec:
    """One way the pipeline normalizes an identifier kind."""

    kind: str
    """The identifier kind (``email``, ``phone_sha256``…)."""
    normalizer: str
    """``email``, ``phone``, ``id``, ``sha256`` or ``none``."""
    profile: str = "plain"
    """For hashed kinds: the platform's hashing profile."""
    region: str = "US"
    """Region assumed for phone numbers written without a country code."""


@dataclass
class LookupSettings:
    """How identifiers are normalized and hashed in the run being investigated."""

    kinds: list[str]
    """Identifier kinds, strongest first (the record columns)."""
    normalizers: list[NormalizerSpec]
    """Every (kind, normalizer, profile, region) a mapping uses, plus the defaults."""
    profiles: dict[str, set[str]] = field(default_factory=dict)
    """Plain kind → the hash profiles its ``*_sha256`` values were derived with."""
    exact_profiles: bool = True
    """False when the profiles are a guess (every profile) because the run's
    config is not at hand."""

    @classmethod
    def from_config(cls, config: AuditConfig) -> LookupSettings:
        """The settings of a loaded config: its mappings' normalizers and profiles."""
        region = config.identity.default_region
        kinds = list(config.identity.kinds)
        specs = {_default_spec(kind, region) for kind in kinds}
        profiles: dict[str, set[str]] = {}
        for system in config.systems:
            for kind, spec in config.mapping_of(system).identifiers.items():
                normalizer = spec.normalizer or DEFAULT_NORMALIZER.get(kind, "id")
                specs.add(
                    NormalizerSpec(kind, normalizer, spec.profile, spec.default_region or region)
                )
                if kind.endswith(HASH_SUFFIX):
                    profiles.setdefault(kind.removesuffix(HASH_SUFFIX), set()).add(spec.profile)
        return cls(kinds, sorted(specs, key=_spec_order), profiles, exact_profiles=True)

    @classmethod
    def guessed(
        cls, kinds: Iterable[str], region: str, profiles: dict[str, set[str]] | None = None
    ) -> LookupSettings:
        """Settings without a config: default normalizers; hashes under ``profiles``,
        else under every profile (a hash input may come from any platform)."""
        kinds = list(kinds)
        if profiles is None:
            profiles = {
                kind.removesuffix(HASH_SUFFIX): set(ALL_PROFILES)
                for kind in kinds
                if kind.endswith(HASH_SUFFIX) and kind.removesuffix(HASH_SUFFIX) in kinds
            }
            exact = False
        else:
            exact = True
        specs = {_default_spec(kind, region) for kind in kinds}
        for plain, plain_profiles in profiles.items():
            for profile in plain_profiles:
                specs.add(NormalizerSpec(plain + HASH_SUFFIX, "sha256", profile, region))
        return cls(kinds, sorted(specs, key=_spec_order), profiles, exact_profiles=exact)

    def with_region(self, region: str | None) -> LookupSettings:
        """These settings, also reading phone numbers as written in ``region``."""
        if not region:
            return self
        added = {
            NormalizerSpec(s.kind, s.normalizer, s.profile, region.upper())
            for s in self.normalizers
            if s.normalizer in ("phone", "sha256")
        }
        specs = sorted(set(self.normalizers) | added, key=_spec_order)
        return LookupSettings(self.kinds, specs, self.profiles, self.exact_profiles)


def _default_spec(kind: str, region: str) -> NormalizerSpec:
    normalizer = DEFAULT_NORMALIZER.get(kind, "sha256" if kind.endswith(HASH_SUFFIX) else "id")
    return NormalizerSpec(kind, normalizer, "plain", region)


def _spec_order(spec: NormalizerSpec) -> tuple[str, str, str, str]:
    return (spec.kind, spec.normalizer, spec.profile, spec.region)


@dataclass(frozen=True)
class Candidate:
    """One (kind, value) an input identifier may stand for."""

    kind: str
    value: str


def person_id_of(text: str) -> int | None:
    """``person:123`` names a person of the run directly."""
    match = _PERSON.match(text)
    return int(match.group(1)) if match else None


def candidates(text: str, settings: LookupSettings) -> list[Candidate]:
    """Every (kind, normalized value) ``text`` can be, normalized the pipeline's way.

    The input is tried against every identifier kind: an email is also tried as
    a customer id, a phone in any spelling is brought to E.164, and plain emails
    and phones are also hashed under each profile the run uses (so they meet a
    hashed audience). A 64-hex input is a hash: it is lowercased and matches the
    ``*_sha256`` kinds, which hold the audiences' hashes *and* the hashes of
    every plain identifier.
    """
    found: dict[Candidate, None] = {}
    for spec in settings.normalizers:
        normalize = identifier_normalizer(spec.kind, spec.normalizer, spec.profile, spec.region)  # type: ignore[arg-type]
        try:
            value = normalize(text)
        except Exception:  # a normalizer refusing odd text means "not this kind"
            value = None
        if value:
            found[Candidate(spec.kind, value)] = None
    return list(found)


def kind_of_column(column: str) -> str:
    """The identifier kind a record column holds: ``email#2`` (a repeated
    identifier's second value) holds ``email``."""
    base, _, number = column.partition("#")
    return base if number.isdigit() else column


def identifier_columns(columns: Iterable[str], kinds: Iterable[str]) -> list[tuple[str, str]]:
    """(column, kind) for every record column holding one of ``kinds``."""
    wanted = set(kinds)
    return [(c, kind_of_column(c)) for c in columns if kind_of_column(c) in wanted]


def identifier_table(
    records: pd.DataFrame, kinds: list[str], profiles: dict[str, set[str]]
) -> pd.DataFrame:
    """Every identifier value of every record: ``kind, value, person_id, record_key, via``.

    Mirrors :func:`prefsync_audit.resolve.identifier_links` (same values, same
    hashing), adding ``via``: ``""`` for a value the record holds, else
    ``"KIND:PROFILE"`` for a hash derived from the record's plain ``KIND``.
    Each distinct plain value is hashed once per distinct profile-applied text.
    """
    person = records["person_id"] if "person_id" in records.columns else None
    parts = []
    for column, kind in identifier_columns(records.columns, kinds):
        present = records[column].notna().to_numpy()
        values = records.loc[present, column].astype("object")
        base = {
            "person_id": (person[present] if person is not None else pd.Series(-1, values.index))
            .to_numpy()
            .astype("int64"),
            "record_key": records.loc[present, "record_key"].to_numpy().astype("int64"),
        }
        parts.append(pd.DataFrame({"kind": kind, "value": values.to_numpy(), **base, "via": ""}))
        apply = apply_email_profile if kind == "email" else apply_phone_profile
        uniques = pd.unique(values)
        applied_by_profile = {
            profile: {v: apply(v, profile) for v in uniques}  # type: ignore[arg-type]
            for profile in sorted(profiles.get(kind, ()))
        }
        hashes = {
            text: sha256_hex(text)
            for applied in applied_by_profile.values()
            for text in set(applied.values())
        }
        for profile, applied in applied_by_profile.items():
            lookup = {v: hashes[t] for v, t in applied.items()}
            parts.append(
                pd.DataFrame(
                    {
                        "kind": kind + HASH_SUFFIX,
                        "value": values.map(lookup).to_numpy(),
                        **base,
                        "via": f"{kind}:{profile}",
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in IDENTIFIER_COLUMNS})
    table = pd.concat(parts, ignore_index=True)
    # A hash the record holds wins over the same hash derived from its plain value;
    # profiles that give the same text (plain and meta for an email) keep one row.
    # "plain" names a profile that changed nothing, so it wins over "google" for a phone.
    table["_rank"] = np.where(
        table["via"] == "", 0, np.where(table["via"].str.endswith(":plain"), 1, 2)
    )
    table = table.sort_values(["record_key", "kind", "value", "_rank", "via"], kind="stable")
    table = table.drop_duplicates(["record_key", "kind", "value"]).drop(columns="_rank")
    return table[IDENTIFIER_COLUMNS].reset_index(drop=True)


def mask(kind: str, value: str, reveal: bool = False) -> str:
    """An identifier as reports show it: masked unless ``reveal``."""
    return value if reveal else mask_value(kind, value)


def describe_person(records: pd.DataFrame, kinds: list[str], reveal: bool = False) -> str:
    """``email=j***@x.com phone=+1******0100 …``: one value per kind, as findings show."""
    parts = []
    for kind in dict.fromkeys(("email", "phone", "customer_id", *kinds)):
        if kind not in records.columns:
            continue
        values = records[kind].dropna()
        if len(values):
            parts.append(f"{kind}={mask(kind, str(values.min()), reveal)}")
    return " ".join(parts)
