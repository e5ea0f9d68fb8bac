"""Keeping a config's file references inside the config's folder.

A config names exports (``systems.*.paths``), mapping files (``systems.*.mapping``)
and mappings they extend (``extends``). A config from someone else (a pull
request, a shared repository) could name ``../../home/me/.ssh/id_rsa`` or commit
a symlink to ``/etc/passwd``, and the file's contents would end up in the
reports as "unmapped values". So every reference must resolve — after ``..``
and symlinks — to a file inside the config's folder (or, for ``preset:`` names
and what presets extend, inside the presets shipped with the tool). The person
who runs the audit can allow other places with ``--allow-outside-paths``; the
config cannot allow it for itself.
"""

from __future__ import annotations

import os
from pathlib import Path

GLOB_CHARS = "*?["

#: How the refusal ends: what the runner can do about it.
HOW_TO_ALLOW = "run with --allow-outside-paths to allow it"


def resolved(path: Path) -> Path:
    """``path`` with ``..`` and every symlink resolved (as far as it exists)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        # A symlink loop: such a file cannot be read anyway; compare its spelling.
        return Path(os.path.normpath(path.absolute()))


def is_inside(path: Path, roots: tuple[Path, ...]) -> bool:
    target = resolved(path)
    return any(target == root or root in target.parents for root in roots)


def _literal_prefix(pattern: str) -> str:
    """The leading parts of a glob pattern that hold no wildcard."""
    parts = Path(pattern).parts
    literal = []
    for part in parts:
        if any(ch in part for ch in GLOB_CHARS):
            break
        literal.append(part)
    return str(Path(*literal)) if literal else "."


def _targets(pattern: str, base_dir: Path) -> list[Path]:
    """What a ``paths`` entry reads: the file, a folder and its files, or the
    glob's literal folder and its matches (a missing file stands for itself, so a
    ``..`` is caught before the file even exists)."""
    if any(ch in pattern for ch in GLOB_CHARS):
        prefix = base_dir / _literal_prefix(pattern)
        if Path(pattern).is_absolute():
            anchor = Path(Path(pattern).anchor)
            matches = anchor.glob(str(Path(pattern).relative_to(anchor)))
        else:
            matches = base_dir.glob(pattern)
        try:
            return [prefix, *sorted(p for p in matches if p.is_file())]
        except (OSError, ValueError, NotImplementedError):
            return [prefix]
    candidate = base_dir / pattern
    if candidate.is_dir():
        try:
            return [candidate, *sorted(p for p in candidate.iterdir() if p.is_file())]
        except OSError:
            return [candidate]
    return [candidate]


def _refusal(reference: str, path: Path, root: Path) -> str:
    target = resolved(path)
    if Path(os.path.normpath(path.absolute())) != target:
        how = "through a symlink"
    elif Path(reference).is_absolute():
        how = "an absolute path"
    else:
        how = "through '..'"
    return (
        f"{reference!r} reads {target} ({how}), outside the config's folder {root}; {HOW_TO_ALLOW}"
    )


def outside_export(pattern: str, base_dir: Path) -> str | None:
    """Why a ``paths`` entry reads a file outside ``base_dir``, or ``None``."""
    root = resolved(base_dir)
    for path in _targets(pattern, base_dir):
        if not is_inside(path, (root,)):
            return _refusal(pattern, path, root)
    return None


def outside_file(reference: str, path: Path, roots: tuple[Path, ...]) -> str | None:
    """Why a mapping file reference leaves every allowed root, or ``None``."""
    if is_inside(path, roots):
        return None
    return _refusal(reference, path, roots[0])
