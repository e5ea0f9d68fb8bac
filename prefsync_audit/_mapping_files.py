"""Loading a mapping document: ``extends`` chains, ``params``, located errors.

A mapping may build on another (``extends: preset:NAME`` or a file path,
relative to the file that says it). The parent is loaded first (it may itself
extend another) and the child merged onto it:

* maps are merged key by key, recursively (``params``, ``vocabularies``,
  ``csv``, ``identifiers``…): the child's value wins for a key both have;
* everything else — lists (``preferences``, ``ignore_rows``), text, numbers,
  ``null`` — is replaced whole by the child's value.

Then ``param:NAME`` references are checked against ``params`` (an unknown name
is an error at the reference; a param the loaded mapping sets that no rule
uses is an error at the param, as a misspelt name would otherwise be ignored)
and validated by the :class:`~prefsync_audit.mapping.Mapping` model, which
substitutes them.

Every value remembers the file and line it was written at, so an error names
the file that holds the bad value: the user's config for what the user wrote,
the preset for what the preset wrote, the ``params`` entry for a value that
came through a ``param:`` reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prefsync_audit._paths import outside_file
from prefsync_audit._yaml import KeyPath, LocatedYaml, format_key_path, load_yaml
from prefsync_audit.errors import ConfigError
from prefsync_audit.mapping import Mapping, param_references

PRESET_PREFIX = "preset:"
#: How deep ``extends`` chains may go (a preset extending a preset… is fine; loops are not).
MAX_EXTENDS_DEPTH = 8

#: Where a value was written: the file, the line, and its key path in that file.
Origin = tuple[Path, int, KeyPath]


@dataclass
class LocatedData:
    """Plain YAML data plus the origin of each key path in it."""

    data: Any
    origins: dict[KeyPath, Origin]
    source: Path | None = None
    """The file named when no written ancestor of a path is known."""

    @classmethod
    def from_doc(cls, doc: LocatedYaml, subtree: KeyPath = ()) -> LocatedData:
        """The part of ``doc`` under ``subtree`` (an inline mapping in a config)."""
        data = doc.data
        for part in subtree:
            data = data[part]
        size = len(subtree)
        origins = {
            path[size:]: (doc.source, line, path)
            for path, line in doc.lines.items()
            if path[:size] == subtree
        }
        return cls(data, origins, doc.source)

    def describe(self, path: KeyPath) -> str:
        """``file:line: key.path`` for a path (of the nearest written ancestor)."""
        path = tuple(path)
        probe = path
        while True:
            if probe in self.origins:
                source, line, shown = self.origins[probe]
                return f"{source}:{line}: {format_key_path((*shown, *path[len(probe) :]))}"
            if not probe:
                where = f"{self.source}: " if self.source else ""
                return f"{where}{format_key_path(path)}"
            probe = probe[:-1]

    def error(self, path: KeyPath, message: str) -> ConfigError:
        return ConfigError(f"{self.describe(path)}: {message}")


def _under(path: KeyPath, prefix: KeyPath) -> bool:
    return path[: len(prefix)] == prefix


def _origins_under(located: LocatedData, prefix: KeyPath) -> dict[KeyPath, Origin]:
    return {k: o for k, o in located.origins.items() if _under(k, prefix)}


def _replace(origins: dict[KeyPath, Origin], path: KeyPath, new: dict[KeyPath, Origin]) -> None:
    for key in [k for k in origins if _under(k, path)]:
        del origins[key]
    origins.update(new)


def merge(parent: LocatedData, child: LocatedData) -> LocatedData:
    """``child`` over ``parent``: maps merged recursively, anything else replaced."""
    origins = dict(parent.origins)

    def walk(old: Any, new: Any, path: KeyPath) -> Any:
        if isinstance(old, dict) and isinstance(new, dict):
            if path in child.origins:
                origins[path] = child.origins[path]
            merged = dict(old)
            for key, value in new.items():
                merged[key] = walk(old[key], value, (*path, key)) if key in old else value
                if key not in old:
                    _replace(origins, (*path, key), _origins_under(child, (*path, key)))
            return merged
        _replace(origins, path, _origins_under(child, path))
        return new

    return LocatedData(walk(parent.data, child.data, ()), origins, child.source)


def resolve_extends(
    located: LocatedData,
    base_dir: Path,
    preset_path: Callable[[str], Path],
    chain: tuple[Path, ...] = (),
    roots: tuple[Path, ...] | None = None,
) -> LocatedData:
    """Merge ``located`` onto the mapping it extends (and that one onto its parent…).

    ``roots``: the folders a referenced file must resolve into (after ``..`` and
    symlinks); ``None`` allows any place.
    """
    reference = located.data.get("extends") if isinstance(located.data, dict) else None
    if reference is None:
        return located
    if not isinstance(reference, str) or not reference.strip():
        raise located.error(("extends",), "give 'preset:NAME' or a mapping file path")
    reference = reference.strip()
    try:
        if reference.startswith(PRESET_PREFIX):
            path = preset_path(reference.removeprefix(PRESET_PREFIX))
        else:
            path = (base_dir / reference).resolve()
        path = path.resolve()
    except ConfigError as exc:
        raise located.error(("extends",), str(exc)) from None
    outside = outside_file(reference, path, roots) if roots is not None else None
    if outside:
        raise located.error(("extends",), outside)
    if path in chain:
        names = " → ".join(p.name for p in (*chain, path))
        raise located.error(("extends",), f"extends itself ({names})")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise located.error(("extends",), f"more than {MAX_EXTENDS_DEPTH} levels of 'extends'")
    if not path.is_file():
        raise located.error(("extends",), f"{path}: file not found")
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "a mapping is a YAML mapping of keys")
    parent = resolve_extends(
        LocatedData.from_doc(doc), path.parent, preset_path, (*chain, path), roots
    )
    return merge(parent, located)


def check_params(located: LocatedData, own: set[str]) -> list[str]:
    """Problems with ``params`` and ``param:`` references, each located."""
    data = located.data
    params = data.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return [str(located.error(("params",), "a mapping of param names to values"))]
    references = param_references(data)
    problems = []
    declared = ", ".join(sorted(params)) or "none"
    for path, name in references:
        if name not in params:
            message = f"unknown param {name!r} (declared: {declared})"
            problems.append(str(located.error(path, message)))
    used = {name for _, name in references}
    for name in sorted(own - used):
        if name in params:
            message = "no rule uses this param (check the spelling)"
            problems.append(str(located.error(("params", name), message)))
    return problems


def relocate_params(located: LocatedData) -> LocatedData:
    """Origins of substituted values: the ``params`` entry they come from."""
    params = located.data.get("params") or {}
    origins = dict(located.origins)
    for path, name in param_references(located.data):
        if name not in params:
            continue
        source = ("params", name)
        moved = {
            (*path, *key[len(source) :]): origin
            for key, origin in located.origins.items()
            if _under(key, source)
        }
        _replace(origins, path, moved)
    return LocatedData(located.data, origins, located.source)


def validation_problems(error: ValidationError, describe: Callable[[KeyPath], str]) -> list[str]:
    """Pydantic errors as ``file:line: key.path: message`` lines, unknown keys first
    (a misspelt key also makes its intended key "missing", and the spelling is the
    real problem)."""
    items = sorted(error.errors(), key=lambda item: item["type"] != "extra_forbidden")
    # pydantic adds union branch names to the location; drop the ones that are
    # not keys in the document so the path reads like the YAML.
    located = [
        (tuple(part for part in item["loc"] if not _is_branch_tag(part)), item) for item in items
    ]
    # A union reports every branch: "should be text" next to the real problem found
    # inside the map that was given is noise.
    deeper = {loc[:i] for loc, _ in located for i in range(len(loc))}
    problems = []
    for loc, item in located:
        if loc in deeper and str(item["type"]).endswith(("_type", "literal_error", "enum")):
            continue
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        problems.append(f"{describe(loc)}: {message}")
    return list(dict.fromkeys(problems))


def _is_branch_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in {"str", "int", "float", "bool"}
        or part[:1].isupper()
        or part.startswith(("literal[", "function-", "tuple[", "str-enum[", "enum["))
    )


def build_mapping(
    located: LocatedData,
    base_dir: Path,
    preset_path: Callable[[str], Path],
    source: Path | None = None,
    roots: tuple[Path, ...] | None = None,
) -> Mapping:
    """Resolve ``extends``, check ``params`` and validate: the finished mapping.

    ``source``: the mapping's own file, when it has one (so a chain leading back
    to it is caught). ``roots``: the folders files it extends must lie in
    (``None``: anywhere). Raises :class:`ConfigError` with every problem found,
    each located.
    """
    if not isinstance(located.data, dict):
        raise located.error((), "a mapping is a YAML mapping of keys")
    own_params = located.data.get("params")
    own = set(own_params) if isinstance(own_params, dict) else set()
    chain = (source.resolve(),) if source else ()
    merged = resolve_extends(located, base_dir, preset_path, chain, roots)
    problems = check_params(merged, own)
    if problems:
        raise ConfigError(problems[0], problems)
    merged = relocate_params(merged)
    try:
        return Mapping.model_validate(merged.data)
    except ValidationError as exc:
        problems = validation_problems(exc, merged.describe)
        raise ConfigError(problems[0], problems) from None
