"""Safe YAML loading that remembers where every value came from.

Config errors must name the file, the key path and the line. PyYAML's plain
``safe_load`` forgets positions, so we compose the node graph ourselves and
build plain Python values from it, recording the line of each key path.
This also lets us refuse what a config never needs: non-standard tags
(``!!python/object``) and alias expansion beyond a fixed budget ("billion
laughs").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from prefsync_audit.errors import ConfigError

#: Most nodes one document may expand to; generous for configs, fatal for bombs.
MAX_NODES = 200_000

_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}

KeyPath = tuple[str | int, ...]


def format_key_path(path: Sequence[str | int]) -> str:
    """``("systems", "crm", "paths", 0)`` → ``systems.crm.paths[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


class LocatedYaml:
    """A loaded YAML document plus the line of each key path in it."""

    def __init__(self, source: Path, data: Any, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.data = data
        self.lines = lines

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def error(self, path: Sequence[str | int], message: str) -> ConfigError:
        """A ConfigError that reads ``file:line: key.path: message``."""
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line else str(self.source)
        return ConfigError(f"{where}: {format_key_path(path)}: {message}")


class _Builder:
    def __init__(self, source: Path) -> None:
        self.source = source
        self.lines: dict[KeyPath, int] = {}
        self.budget = MAX_NODES
        self._scalar = yaml.SafeLoader("")  # only used for its scalar constructors

    def fail(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {message}")

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(node, f"document expands to more than {MAX_NODES} nodes")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _STANDARD_TAGS:
            raise self.fail(node, f"{format_key_path(path)}: tag {node.tag!r} is not allowed")
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, f"{format_key_path(path)}: keys must be plain text")
                # Keys stay the text that was written: `yes:` and `Y:` in a value
                # vocabulary must not turn into the boolean True.
                key = key_node.value
                if key in result:
                    raise self.fail(key_node, f"{format_key_path((*path, key))}: duplicate key")
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar.construct_object(node, deep=True)


def load_yaml(path: Path) -> LocatedYaml:
    """Read ``path`` as one YAML document; ConfigError on any problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, source: Path) -> LocatedYaml:
    """Parse YAML ``text``; ``source`` is only used in messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}{line}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    if root is None:
        return LocatedYaml(source, {}, {})
    builder = _Builder(source)
    data = builder.build(root, ())
    return LocatedYaml(source, data, builder.lines)
