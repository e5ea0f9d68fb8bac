"""prefsync_audit._yaml: safe YAML that remembers the line of every key path."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from prefsync_audit._yaml import MAX_NODES, format_key_path, load_yaml, parse_yaml
from prefsync_audit.errors import ConfigError

SOURCE = Path("audit.yaml")

NESTED = """\
systems:
  crm:
    paths:
      - crm.csv
      - more/*.csv
    mapping:
      identifiers:
        email: {column: Email}
policy:
  latency_sla: 72h
"""


def test_nested_values_are_plain_python():
    doc = parse_yaml(NESTED, SOURCE)
    assert doc.data == {
        "systems": {
            "crm": {
                "paths": ["crm.csv", "more/*.csv"],
                "mapping": {"identifiers": {"email": {"column": "Email"}}},
            }
        },
        "policy": {"latency_sla": "72h"},
    }


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("systems",), 1),
        (("systems", "crm"), 2),
        (("systems", "crm", "paths"), 3),
        (("systems", "crm", "paths", 0), 4),
        (("systems", "crm", "paths", 1), 5),
        (("systems", "crm", "mapping", "identifiers", "email"), 8),
        (("systems", "crm", "mapping", "identifiers", "email", "column"), 8),
        (("policy", "latency_sla"), 10),
    ],
)
def test_line_of_nested_key_paths(path, line):
    assert parse_yaml(NESTED, SOURCE).line_of(path) == line


def test_line_of_unknown_path_falls_back_to_nearest_ancestor():
    doc = parse_yaml(NESTED, SOURCE)
    assert doc.line_of(("systems", "crm", "mapping", "nope", "deeper")) == 6
    assert doc.line_of(("policy", "authorities", 3)) == 9


def test_error_names_file_line_and_path():
    doc = parse_yaml(NESTED, SOURCE)
    error = doc.error(("systems", "crm", "paths", 1), "no such file")
    assert str(error) == "audit.yaml:5: systems.crm.paths[1]: no such file"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), "(top level)"),
        (("systems", "crm", "paths", 0), "systems.crm.paths[0]"),
        (("preferences", 2, "state"), "preferences[2].state"),
    ],
)
def test_format_key_path(path, text):
    assert format_key_path(path) == text


def test_keys_stay_text():
    doc = parse_yaml("values:\n  yes: granted\n  Y: granted\n  no: denied\n  1: x\n", SOURCE)
    assert list(doc.data["values"]) == ["yes", "Y", "no", "1"]
    assert all(isinstance(key, str) for key in doc.data["values"])


def test_values_are_still_typed():
    doc = parse_yaml("a: yes\nb: 3\nc: 1.5\nd: null\ne: '3'\n", SOURCE)
    assert doc.data == {"a": True, "b": 3, "c": 1.5, "d": None, "e": "3"}


def test_duplicate_key_is_an_error_with_line_and_path():
    text = "systems:\n  crm:\n    paths: a.csv\n    paths: b.csv\n"
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, SOURCE)
    assert str(info.value) == "audit.yaml:4: systems.crm.paths: duplicate key"


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object:os.system {}\n",
        "x: !!python/object/apply:os.system ['echo pwned']\n",
        "x: !!python/name:os.system ''\n",
        "x: !custom 1\n",
        "x: !!binary aGVsbG8=\n",
    ],
)
def test_non_standard_tags_are_refused(text):
    with pytest.raises(ConfigError, match=r"^audit\.yaml:1: x: tag .* is not allowed$"):
        parse_yaml(text, SOURCE)


def test_billion_laughs_is_refused_quickly():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES} nodes"):
        parse_yaml("\n".join(lines) + "\n", SOURCE)
    assert time.perf_counter() - started < 10


def test_small_aliases_still_work():
    doc = parse_yaml("base: &b {column: Email}\ncopy: *b\n", SOURCE)
    assert doc.data["copy"] == {"column": "Email"}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a:\n  b: 1\n c: 2\n", 3),
        ("a: 1\nb: [1, 2\n", 3),
        ("a: 'unterminated\n", 2),
    ],
)
def test_invalid_yaml_names_file_and_line(text, line):
    with pytest.raises(ConfigError, match=rf"^audit\.yaml:{line}: invalid YAML: "):
        parse_yaml(text, SOURCE)


def test_non_text_keys_are_refused():
    with pytest.raises(ConfigError, match="keys must be plain text"):
        parse_yaml("? [1, 2]\n: 3\n", SOURCE)


def test_empty_document_is_an_empty_mapping():
    assert parse_yaml("", SOURCE).data == {}
    assert parse_yaml("# only a comment\n", SOURCE).data == {}


def test_load_yaml_reads_file_with_bom(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: caf\xc3\xa9\nlist:\n  - 1\n")
    doc = load_yaml(path)
    assert doc.data == {"name": "café", "list": [1]}
    assert doc.line_of(("list", 0)) == 3
    assert doc.source == path


def test_load_yaml_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found$"):
        load_yaml(tmp_path / "nope.yaml")


def test_load_yaml_undecodable_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(path)


def test_flow_nesting_past_the_limit_is_refused_before_parsing():
    from prefsync_audit._yaml import MAX_DEPTH

    started = time.perf_counter()
    text = "a: 1\nb: " + "[" * 20_000 + "]" * 20_000 + "\n"
    with pytest.raises(ConfigError, match=rf"^audit\.yaml:2: nested more than {MAX_DEPTH} levels"):
        parse_yaml(text, SOURCE)
    assert time.perf_counter() - started < 2


def test_brackets_in_quotes_and_comments_are_not_nesting():
    opened, braces = "[" * 100, "{" * 100
    text = f"p: '{opened}'\nq: \"{braces}\"\n# {opened}\nr: x[0-9]\n"
    doc = parse_yaml(text, SOURCE)
    assert doc.data == {"p": opened, "q": braces, "r": "x[0-9]"}


def test_block_nesting_past_the_limit_is_refused():
    lines = [" " * i + f"k{i}:" for i in range(100)]
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        parse_yaml("\n".join(lines) + " 1\n", SOURCE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("as_of: 2026-02-30T00:00:00Z\n", "as_of: cannot read the value: day is out of range"),
        ("n: " + "9" * 5000 + "\n", "n: cannot read the value: Exceeds the limit (4300 digits)"),
    ],
)
def test_scalars_pyyaml_cannot_build_are_errors_at_their_line(text, message):
    with pytest.raises(ConfigError, match=rf"^audit\.yaml:1: {re.escape(message)}"):
        parse_yaml(text, SOURCE)


def test_oversized_config_is_refused(tmp_path, monkeypatch):
    from prefsync_audit import _yaml

    monkeypatch.setattr(_yaml, "MAX_BYTES", 100)
    path = tmp_path / "audit.yaml"
    path.write_text("name: " + "x" * 200 + "\n")
    with pytest.raises(ConfigError, match=r"audit\.yaml: larger than 100 bytes; not a config$"):
        load_yaml(path)
