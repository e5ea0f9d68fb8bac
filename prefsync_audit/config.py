"""The audit config (``audit.yaml``): declarative models and their loader.

The loader reads the YAML with line numbers, validates it with pydantic and
turns every validation error into ``file:line: key.path: message``. Mappings
named by path or ``preset:NAME`` are loaded and validated the same way, each
against its own file; ``extends`` and ``params`` are resolved by
``_mapping_files``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from prefsync_audit._mapping_files import (
    PRESET_PREFIX,
    LocatedData,
    build_mapping,
    validation_problems,
)
from prefsync_audit._model import Duration, PreferenceKey, StrictModel, parse_duration
from prefsync_audit._paths import outside_export, outside_file, resolved
from prefsync_audit._yaml import LocatedYaml, load_yaml
from prefsync_audit.errors import ConfigError
from prefsync_audit.mapping import Mapping
from prefsync_audit.vocab import IDENTIFIER_KINDS


class DatabaseSource(StrictModel):
    """A system read straight from a database: a table or a query."""

    url: str
    """A SQLAlchemy-style URL (``postgresql://user:${PG_PASSWORD}@host/db``,
    ``mysql://…``, ``sqlite:///relative/or/absolute.db``, ``duckdb:///file.duckdb``);
    ``${NAME}`` is replaced by the environment variable NAME."""
    table: str | None = None
    """A table (optionally ``schema.table``) read whole."""
    query: str | None = None
    """A SQL query whose result is read."""
    batch_rows: int = Field(100_000, ge=1)
    """Rows fetched per batch."""

    @model_validator(mode="after")
    def _table_or_query(self) -> DatabaseSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class SystemConfig(StrictModel):
    """One system whose export is audited."""

    description: str | None = None
    paths: list[str] = Field(default_factory=list)
    """Export files, relative to the config file; globs allowed (``crm/*.csv``)."""
    database: DatabaseSource | None = None
    """Read the system from a database instead of files."""
    mapping: str | Mapping
    """A mapping file (relative to the config), ``preset:NAME``, or an inline mapping."""
    must_hold: list[PreferenceKey] = Field(default_factory=list)
    """Keys this system must hold a state for, for every person it knows."""
    latency_sla: Duration | None = None
    """Overrides ``policy.latency_sla`` for this system."""

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _paths_or_database(self) -> SystemConfig:
        if bool(self.paths) == (self.database is not None):
            raise ValueError("give either 'paths' (export files) or 'database', not both")
        return self


class IdentityConfig(StrictModel):
    """How records are linked into persons."""

    strong_keys: list[str] = Field(default_factory=lambda: ["customer_id"])
    """Identifier kinds a person should have one value of; two values = identity conflict."""
    default_region: str = "US"
    """Region for phone numbers written without a country code."""
    ignore: dict[str, list[str]] = Field(default_factory=dict)
    """Placeholder values never used to link records, per kind (normalized values;
    ``re:`` prefix for a regular expression)."""
    use_default_ignore: bool = True
    """Also ignore the built-in placeholders (``test@test.com``, ``noemail@…``, repeated digits)."""
    max_records_per_value: int = Field(25, ge=2)
    """A value linking more records than this is a placeholder and is ignored."""
    extra_kinds: list[str] = Field(default_factory=list)
    """Identifier kinds beyond the built-in ones that mappings may declare."""

    @property
    def kinds(self) -> tuple[str, ...]:
        return (*IDENTIFIER_KINDS, *self.extra_kinds)


class AuthorityRule(StrictModel):
    """The source of truth for grants of the keys matching ``key``."""

    key: PreferenceKey
    system: str


class PolicyConfig(StrictModel):
    """How the expected state is decided."""

    authorities: list[AuthorityRule] = Field(default_factory=list)
    latency_sla: Duration = Field(default_factory=lambda: parse_duration("72h"))
    """How long a system may take to honour an opt-out before it is a suppression gap."""
    regrant_requires_evidence: bool = True
    """A grant after a counting denial counts only with a capture source or proof."""
    sync_window: Duration = Field(default_factory=lambda: parse_duration("30d"))
    """Deciding changes this recent (before as-of) count for the sync success rate."""


class Levels(StrictModel):
    """Warn and fail levels of one threshold; either may be left out."""

    warn: float | None = None
    fail: float | None = None


class SystemThresholds(StrictModel):
    """Levels per metric that every system has on its own. Counts, rates and latency
    breach when above the level; audit readiness when below it."""

    suppression_gaps: Levels | None = None
    unverified_resubscribes: Levels | None = None
    over_suppression: Levels | None = None
    mismatch_rate: Levels | None = None
    sync_latency_p95: Levels | None = None
    """In seconds, or durations like '24h'."""
    audit_readiness: Levels | None = None
    quarantined_rows: Levels | None = None
    unmapped_values: Levels | None = None

    @field_validator("sync_latency_p95", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                level: (parse_duration(v).total_seconds() if isinstance(v, str) else v)
                for level, v in value.items()
            }
        return value


class Thresholds(SystemThresholds):
    """Levels for the whole run; coverage and sync success breach when below the level."""

    coverage: Levels | None = None
    sync_success_rate: Levels | None = None
    identity_conflicts: Levels | None = None
    per_system: dict[str, SystemThresholds] = Field(default_factory=dict)
    """Overrides for one system's own metrics (only metrics a system has on its own)."""


class AuditConfig(StrictModel):
    """A whole audit: the systems, how to link people, the policy, the thresholds."""

    version: int = 1
    name: str | None = None
    as_of: datetime | None = None
    """The audit's "now"; ``--as-of`` overrides it; else the current time."""
    systems: dict[str, SystemConfig] = Field(min_length=1)
    identity: IdentityConfig = IdentityConfig()
    policy: PolicyConfig = PolicyConfig()
    thresholds: Thresholds = Thresholds()

    # Not part of the YAML: where the config lives and what it hashed to.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: Path | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)
    allow_outside_paths: bool = Field(default=False, exclude=True)
    """Set by ``--allow-outside-paths``: files outside ``base_dir`` may be read
    (never by the YAML, which cannot vouch for itself)."""

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != 1:
            raise ValueError("only config version 1 is known")
        return value

    @field_validator("as_of")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value else None

    def mapping_of(self, system: str) -> Mapping:
        mapping = self.systems[system].mapping
        assert isinstance(mapping, Mapping), "load_config resolves mappings"
        return mapping

    def latency_sla_of(self, system: str) -> Any:
        return self.systems[system].latency_sla or self.policy.latency_sla


def presets_dir() -> Path:
    """Where the vendor presets live: inside an installed wheel, or the repo's mappings/."""
    packaged = Path(__file__).parent / "_presets"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "mappings"


def _messages(error: ValidationError, doc: LocatedYaml, prefix: tuple = ()) -> list[str]:
    located = LocatedData.from_doc(doc)
    return validation_problems(error, lambda loc: located.describe((*prefix, *loc)))


def _validate(model: type[StrictModel], doc: LocatedYaml, data: Any, prefix: tuple = ()) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = _messages(exc, doc, prefix)
        raise ConfigError(problems[0], problems) from None


def preset_path(name: str) -> Path:
    """The file of preset ``name``; ConfigError listing the known presets if none."""
    path = presets_dir() / f"{name}.yaml"
    if not name or "/" in name or "\\" in name or not path.is_file():
        known = ", ".join(sorted(p.stem for p in presets_dir().glob("*.yaml"))) or "none"
        raise ConfigError(f"unknown preset {name!r} (known: {known})")
    return path


def load_mapping(reference: str, base_dir: Path, roots: tuple[Path, ...] | None = None) -> Mapping:
    """Load a mapping by file path (relative to ``base_dir``) or ``preset:NAME``,
    resolving its ``extends`` chain and ``params``. ``roots``: the folders every
    file of the chain must lie in (``None``: anywhere)."""
    if reference.startswith(PRESET_PREFIX):
        path = preset_path(reference.removeprefix(PRESET_PREFIX))
    else:
        path = (base_dir / reference).resolve()
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "a mapping is a YAML mapping of keys")
    return build_mapping(LocatedData.from_doc(doc), path.parent, preset_path, path, roots)


def load_inline_mapping(
    doc: LocatedYaml, where: tuple, base_dir: Path, roots: tuple[Path, ...] | None = None
) -> Mapping:
    """Validate a mapping written inside a config (at key path ``where``)."""
    return build_mapping(LocatedData.from_doc(doc, where), base_dir, preset_path, roots=roots)


def _outside_paths(systems: dict[str, Any], doc: LocatedYaml, base_dir: Path) -> list[str]:
    """Export paths of the config that read files outside its folder, each located."""
    problems = []
    for name, system in systems.items():
        paths = system.get("paths") if isinstance(system, dict) else None
        entries = [paths] if isinstance(paths, str) else paths
        if not isinstance(entries, list):
            continue
        for i, pattern in enumerate(entries):
            if not isinstance(pattern, str):
                continue
            where = (
                ("systems", name, "paths")
                if isinstance(paths, str)
                else ("systems", name, "paths", i)
            )
            if not pattern.strip():
                problems.append(str(doc.error(where, "an empty path")))
                continue
            outside = outside_export(pattern, base_dir)
            if outside:
                problems.append(str(doc.error(where, outside)))
    return problems


def load_config(path: str | Path, allow_outside_paths: bool = False) -> AuditConfig:
    """Load and validate an audit config and every mapping it names.

    Every file the config names (exports, mapping files, what they ``extends``)
    must resolve into the config's folder, after ``..`` and symlinks, unless
    ``allow_outside_paths`` (``--allow-outside-paths``); presets are always allowed.

    Raises :class:`ConfigError` with every problem found, each naming file,
    key path and line.
    """
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "an audit config is a YAML mapping of keys")
    data = dict(doc.data)
    problems: list[str] = []
    failed_mappings: list[str] = []
    roots = None if allow_outside_paths else (resolved(path.parent), resolved(presets_dir()))
    systems = data.get("systems")
    if isinstance(systems, dict):
        systems = {name: dict(s) if isinstance(s, dict) else s for name, s in systems.items()}
        if roots is not None:
            problems += _outside_paths(systems, doc, path.parent)
        for name, system in systems.items():
            if not isinstance(system, dict):
                continue
            mapping = system.get("mapping")
            try:
                outside = (
                    outside_file(mapping, path.parent / mapping, roots)
                    if isinstance(mapping, str)
                    and roots is not None
                    and not mapping.startswith(PRESET_PREFIX)
                    else None
                )
                if outside:
                    raise doc.error(("systems", name, "mapping"), outside)
                if isinstance(mapping, str):
                    system["mapping"] = load_mapping(mapping, path.parent, roots)
                elif isinstance(mapping, dict):
                    where = ("systems", name, "mapping")
                    system["mapping"] = load_inline_mapping(doc, where, path.parent, roots)
            except ConfigError as exc:
                problems += exc.problems
                failed_mappings.append(f"systems.{name}.mapping")
        data["systems"] = systems
    try:
        config = _validate(AuditConfig, doc, data)
    except ConfigError as exc:
        # A mapping that already failed on its own would only fail again here.
        rest = [p for p in exc.problems if not any(f": {m}" in p for m in failed_mappings)]
        raise ConfigError((problems + rest)[0], problems + rest) from None
    if problems:
        raise ConfigError(problems[0], problems)
    problems = _check_references(config, doc) + _check_identifier_kinds(config, doc)
    if problems:
        raise ConfigError(problems[0], problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return config.model_copy(
        update={
            "base_dir": path.parent.resolve(),
            "source": path,
            "sha256": digest,
            "allow_outside_paths": allow_outside_paths,
        }
    )


def _check_references(config: AuditConfig, doc: LocatedYaml) -> list[str]:
    """Names that must refer to a configured system, each reported at its own line."""
    problems = []
    for i, rule in enumerate(config.policy.authorities):
        if rule.system not in config.systems:
            path = ("policy", "authorities", i, "system")
            problems.append(str(doc.error(path, f"unknown system {rule.system!r}")))
    for name in config.thresholds.per_system:
        if name not in config.systems:
            path = ("thresholds", "per_system", name)
            problems.append(str(doc.error(path, "unknown system")))
    for name in config.systems:
        if not name.replace("_", "").replace("-", "").isalnum():
            path = ("systems", name)
            problems.append(str(doc.error(path, "use letters, digits, '-' and '_' in names")))
    return problems


def _check_identifier_kinds(config: AuditConfig, doc: LocatedYaml) -> list[str]:
    known = set(config.identity.kinds)
    problems = []
    for name in config.systems:
        for kind in config.mapping_of(name).identifiers:
            if kind not in known:
                line = doc.line_of(("systems", name, "mapping"))
                problems.append(
                    f"{doc.source}:{line}: systems.{name}.mapping: identifier kind {kind!r} is "
                    "not known (declare it under identity.extra_kinds)"
                )
    for kind in config.identity.strong_keys:
        if kind not in known:
            line = doc.line_of(("identity", "strong_keys"))
            problems.append(
                f"{doc.source}:{line}: identity.strong_keys: unknown identifier kind {kind!r}"
            )
    return problems


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
