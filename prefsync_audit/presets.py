"""The vendor presets as a catalogue: list them, show one, recognize an export.

``mappings list`` and ``mappings show`` read the YAML files under
:func:`~prefsync_audit.config.presets_dir`; ``mappings infer`` first asks
:func:`recognize` whether a preset reads the export, and otherwise drafts a
mapping from the export's columns (``_infer``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from prefsync_audit import config as config_module
from prefsync_audit._infer import Draft, draft_mapping, sample_table
from prefsync_audit.errors import AuditError, ConfigError
from prefsync_audit.load import ROW, format_from_name, load_file, resolve_paths
from prefsync_audit.mapping import Mapping, StateFromColumn

#: Formats a file name may say for a preset's format (``data.json`` of JSON lines).
_FAMILY = {"csv": "text", "tsv": "text", "json": "json", "jsonl": "json", "parquet": "parquet"}

#: Least share of a preset's columns an export must have for the preset to fit.
MIN_FIT = 0.8


@dataclass(frozen=True)
class PresetInfo:
    """One preset of the catalogue."""

    name: str
    description: str
    path: Path
    format: str | None
    """The file format the preset reads (``None``: from the file extension)."""
    params: tuple[str, ...]
    """Names of the params an extending mapping can set."""


def preset_names() -> list[str]:
    return sorted(p.stem for p in config_module.presets_dir().glob("*.yaml"))


def load_preset(name: str) -> Mapping:
    """The validated preset (``params`` substituted)."""
    return config_module.load_mapping(f"preset:{name}", Path("."))


def list_presets() -> list[PresetInfo]:
    """Every preset, by name."""
    infos = []
    for name in preset_names():
        mapping = load_preset(name)
        infos.append(
            PresetInfo(
                name=name,
                description=mapping.description or "",
                path=config_module.preset_path(name),
                format=mapping.format,
                params=tuple(mapping.params),
            )
        )
    return infos


def preset_text(name: str) -> str:
    """The preset file as written (comments included)."""
    return config_module.preset_path(name).read_text(encoding="utf-8")


def resolved_text(name: str) -> str:
    """The preset as the audit uses it: ``extends`` merged, ``params`` substituted,
    defaults left out, as YAML."""
    data = load_preset(name).model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


@dataclass(frozen=True)
class PresetFit:
    """How well a preset reads an export."""

    name: str
    found: tuple[str, ...]
    """The preset's columns present in the export."""
    missing: tuple[str, ...]
    """The preset's columns absent from it."""

    @property
    def share(self) -> float:
        total = len(self.found) + len(self.missing)
        return len(self.found) / total if total else 0.0


def _export_files(path: Path) -> list[Path]:
    """The file(s) an export path stands for: itself, or a ZIP's / folder's members."""
    if path.is_dir() or path.suffix.lower() == ".zip":
        return resolve_paths([path.name], path.parent, "export")
    if not path.exists():
        raise AuditError(f"{path}: export file not found")
    return [path]


def _fit(name: str, mapping: Mapping, files: list[Path]) -> PresetFit | None:
    columns: set[str] = set()
    for file in files:
        try:
            table = load_file(file, mapping, name, file)
        except AuditError:
            return None
        columns |= set(table.frame.columns) - {ROW}
    used = [column for _, column in mapping.columns_used()]
    found, missing = [], []
    for column in dict.fromkeys(used):
        alternatives = column.split(" or ")
        (found if columns.intersection(alternatives) else missing).append(column)
    for rule in mapping.preferences:
        if isinstance(rule.state, StateFromColumn) and rule.state.column_pattern:
            pattern = re.compile(rule.state.column_pattern)
            label = f"/{rule.state.column_pattern}/"
            hit = any(pattern.fullmatch(c) for c in columns)
            (found if hit else missing).append(label)
    identifiers = [spec.column for spec in mapping.identifiers.values()]
    if not columns.intersection(identifiers):
        return None
    return PresetFit(name, tuple(found), tuple(missing))


def recognize(path: Path) -> list[PresetFit]:
    """Presets that read ``path``, best first: each has at least :data:`MIN_FIT` of
    its columns in the export and one of its identifier columns."""
    files = _export_files(path)
    fits = []
    for name in preset_names():
        try:
            mapping = load_preset(name)
        except ConfigError:
            continue
        by_name = format_from_name(files[0])
        if mapping.format and by_name and _FAMILY[by_name] != _FAMILY[mapping.format]:
            continue
        fit = _fit(name, mapping, files)
        if fit is not None and fit.share >= MIN_FIT:
            fits.append(fit)
    return sorted(fits, key=lambda f: (-f.share, -len(f.found), f.name))


def preset_draft(fit: PresetFit, path: Path) -> str:
    """A mapping file that uses the recognized preset, with its params to fill."""
    mapping = load_preset(fit.name)
    total = len(fit.found) + len(fit.missing)
    lines = [
        f"# Drafted by `prefsync-audit mappings infer {path.name}`.",
        f"# The export looks like preset:{fit.name}: {len(fit.found)} of its {total} columns",
        "# are in it. What it reads and every choice it makes:",
        f"#   prefsync-audit mappings show {fit.name}",
    ]
    if fit.missing:
        lines.append("# Columns of the preset not in this export: " + ", ".join(fit.missing))
    lines.append(f"extends: preset:{fit.name}")
    if mapping.params:
        lines.append("# Params you can set (merged with the preset's defaults):")
        dumped = yaml.safe_dump(
            {"params": mapping.params}, sort_keys=False, allow_unicode=True, width=100
        )
        lines += ["# " + line for line in dumped.splitlines()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Inference:
    """What ``mappings infer`` found: a recognized preset, or a drafted mapping."""

    text: str
    """The mapping file to write (commented YAML)."""
    preset: PresetFit | None
    draft: Draft | None


def infer(path: Path) -> Inference:
    """Recognize a preset for the export, else draft a mapping from its columns."""
    fits = recognize(path)
    if fits:
        return Inference(preset_draft(fits[0], path), fits[0], None)
    table = sample_table(_export_files(path)[0])
    draft = draft_mapping(table, path.name)
    return Inference(draft.text, None, draft)
