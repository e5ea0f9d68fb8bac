"""Safe YAML loading that remembers where every value came from.

Config errors must name the file, the key path and the line. PyYAML's plain
``safe_load`` forgets positions, so we compose the node graph ourselves and
build plain Python values from it, recording the line of each key path.
This also lets us refuse what a config never needs: non-standard tags
(``!!python/object``), alias expansion beyond a fixed budget ("billion
laughs"), nesting deeper than :data:`MAX_DEPTH` and files over
:data:`MAX_BYTES`. A scalar PyYAML cannot build (``2026-02-30``, an integer of
5,000 digits) is an error at its line, not a crash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from prefsync_audit.errors import ConfigError

#: Most nodes one document may expand to; generous for configs, fatal for bombs.
MAX_NODES = 200_000
#: Deepest nesting of maps and lists; real configs stay under ten.
MAX_DEPTH = 64
#: Largest config or mapping file read (bytes).
MAX_BYTES = 4 * 1024 * 1024

#: What can open or close a flow collection, or hide brackets (quotes, comments).
_FLOW_TOKENS = re.compile(r"""[\[\]{}]|"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|(?:^|\s)#[^\n]*""")

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
        if len(path) > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep")
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
        try:
            return self._scalar.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            # An impossible date (2026-02-30), an integer past Python's digit limit.
            reason = str(exc).split(";")[0]
            message = f"{format_key_path(path)}: cannot read the value: {reason}"
            raise self.fail(node, message) from None


def load_yaml(path: Path) -> LocatedYaml:
    """Read ``path`` as one YAML document; ConfigError on any problem."""
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_BYTES} bytes; not a config")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_yaml(text, path)


def _flow_too_deep(text: str) -> int | None:
    """The line where ``[``/``{`` nesting passes :data:`MAX_DEPTH`, if it does.

    PyYAML's scanner is quadratic in flow nesting (``[[[[…``), so this is checked
    before it runs, not left to the builder."""
    depth = 0
    for match in _FLOW_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, match.start()) + 1
        elif token in "]}":
            depth = max(depth - 1, 0)
    return None


def parse_yaml(text: str, source: Path) -> LocatedYaml:
    """Parse YAML ``text``; ``source`` is only used in messages."""
    line = _flow_too_deep(text)
    if line is not None:
        raise ConfigError(f"{source}:{line}: nested more than {MAX_DEPTH} levels deep")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None
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
