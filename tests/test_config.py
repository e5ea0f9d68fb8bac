"""prefsync_audit.config (+ _model, mapping): loading and validating audit configs."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from prefsync_audit import config as config_module
from prefsync_audit._model import key_covers, parse_duration, parse_key
from prefsync_audit.config import load_config
from prefsync_audit.errors import ConfigError
from prefsync_audit.mapping import Mapping, StateFromColumn

INLINE_MAPPING = """\
      identifiers:
        email: {column: Email}
      preferences:
        - purpose: marketing
          channel: email
          state: {column: OptIn, vocabulary: boolean}
"""

MAPPING_FILE = """\
identifiers:
  email: {column: Email}
preferences:
  - purpose: marketing
    channel: email
    state: denied
"""


def write(tmp_path, text, name="audit.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def config_text(systems: str, rest: str = "") -> str:
    return "systems:\n" + systems + rest


def crm(extra: str = "") -> str:
    return "  crm:\n    paths: crm.csv\n" + extra + "    mapping:\n" + INLINE_MAPPING


def problems_of(path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_inline_mapping_and_mapping_file(tmp_path):
    write(tmp_path, MAPPING_FILE, "esp_mapping.yaml")
    text = config_text(crm() + "  esp:\n    paths: [esp/*.csv]\n    mapping: esp_mapping.yaml\n")
    config = load_config(write(tmp_path, text))
    assert config.systems["crm"].paths == ["crm.csv"]
    assert config.systems["esp"].paths == ["esp/*.csv"]
    crm_rule = config.mapping_of("crm").preferences[0]
    assert isinstance(crm_rule.state, StateFromColumn)
    assert crm_rule.state.column == "OptIn"
    esp_rule = config.mapping_of("esp").preferences[0]
    assert (esp_rule.purpose, esp_rule.channel, esp_rule.scope, esp_rule.state) == (
        "marketing",
        "email",
        "*",
        "denied",
    )
    assert config.base_dir == tmp_path.resolve()
    assert config.source == tmp_path / "audit.yaml"
    assert len(config.sha256) == 64


def test_sha256_changes_with_the_file(tmp_path):
    first = load_config(write(tmp_path, config_text(crm()))).sha256
    second = load_config(write(tmp_path, config_text(crm()) + "name: other\n")).sha256
    assert first != second


def test_missing_mapping_file_is_an_error(tmp_path):
    text = config_text("  esp:\n    paths: esp.csv\n    mapping: nope.yaml\n")
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1
    assert problems[0].endswith("nope.yaml: file not found")


def test_preset_by_name(tmp_path, monkeypatch):
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "mailchimp.yaml").write_text(MAPPING_FILE)
    (presets / "braze.yaml").write_text(MAPPING_FILE)
    monkeypatch.setattr(config_module, "presets_dir", lambda: presets)
    text = config_text("  esp:\n    paths: esp.csv\n    mapping: preset:mailchimp\n")
    config = load_config(write(tmp_path, text))
    assert config.mapping_of("esp").identifiers["email"].column == "Email"


def test_missing_preset_lists_known_presets(tmp_path, monkeypatch):
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "mailchimp.yaml").write_text(MAPPING_FILE)
    (presets / "braze.yaml").write_text(MAPPING_FILE)
    monkeypatch.setattr(config_module, "presets_dir", lambda: presets)
    text = config_text("  esp:\n    paths: esp.csv\n    mapping: preset:mailchimpp\n")
    problems = problems_of(write(tmp_path, text))
    assert problems == ["unknown preset 'mailchimpp' (known: braze, mailchimp)"]


def test_unknown_key_names_file_line_and_path(tmp_path):
    path = write(
        tmp_path,
        config_text(
            "  crm:\n    paths: crm.csv\n    pathz: x.csv\n    mapping:\n" + INLINE_MAPPING
        ),
    )
    problems = problems_of(path)
    assert problems == [f"{path}:4: systems.crm.pathz: unknown key (check the spelling)"]


def test_unknown_key_in_inline_mapping(tmp_path):
    path = write(tmp_path, config_text(crm().replace("channel: email", "chanel: email")))
    problems = problems_of(path)
    assert f"{path}:9: systems.crm.mapping.preferences[0].chanel: unknown key" in " ".join(problems)


def test_unknown_key_in_mapping_file_names_that_file(tmp_path):
    mapping = write(tmp_path, MAPPING_FILE + "    bogus: 1\n", "m.yaml")
    path = write(tmp_path, config_text("  esp:\n    paths: esp.csv\n    mapping: m.yaml\n"))
    problems = problems_of(path)
    assert problems == [f"{mapping}:7: preferences[0].bogus: unknown key (check the spelling)"]


def test_several_problems_reported_at_once(tmp_path):
    mapping = write(tmp_path, MAPPING_FILE + "    bogus: 1\n", "m.yaml")
    text = config_text(
        "  crm:\n    paths: crm.csv\n    pathz: x\n    mapping: m.yaml\n",
        "policy:\n  latency_sla: soon\nidentity:\n  max_records_per_value: 1\n",
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert f"{mapping}:7: preferences[0].bogus: unknown key (check the spelling)" in problems
    assert f"{path}:4: systems.crm.pathz: unknown key (check the spelling)" in problems
    assert any(
        p.startswith(f"{path}:7: policy.latency_sla: 'soon' is not a duration") for p in problems
    )
    assert any(p.startswith(f"{path}:9: identity.max_records_per_value:") for p in problems)
    assert len(problems) == 4
    assert str(info.value).endswith("(and 3 more problem(s))")


def test_inline_mapping_problems_are_not_repeated(tmp_path):
    path = write(tmp_path, config_text(crm().replace("channel: email", "chanel: email")))
    problems = problems_of(path)
    assert len(problems) == len(set(problems)) == 1


def test_bad_state_key_path_reads_like_the_yaml(tmp_path):
    path = write(
        tmp_path,
        config_text(crm().replace("state: {column: OptIn, vocabulary: boolean}", "state: maybe")),
    )
    problems = problems_of(path)
    assert not any("str-enum" in p for p in problems)


def test_authority_naming_unknown_system(tmp_path):
    text = config_text(
        crm(), "policy:\n  authorities:\n    - key: marketing/email\n      system: cmp\n"
    )
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1
    assert "policy.authorities[0].system: unknown system 'cmp'" in problems[0]


def test_authority_error_names_its_line(tmp_path):
    text = config_text(
        crm(), "policy:\n  authorities:\n    - key: marketing/email\n      system: cmp\n"
    )
    path = write(tmp_path, text)
    assert problems_of(path)[0].startswith(f"{path}:14: policy.authorities[0].system")


def test_per_system_threshold_for_unknown_system(tmp_path):
    text = config_text(crm(), "thresholds:\n  per_system:\n    esp: {}\n")
    problems = problems_of(write(tmp_path, text))
    assert "thresholds.per_system.esp: unknown system" in problems[0]


def test_undeclared_identifier_kind(tmp_path):
    mapping = INLINE_MAPPING.replace(
        "email: {column: Email}", "email: {column: Email}\n        loyalty_id: {column: L}"
    )
    text = config_text("  crm:\n    paths: crm.csv\n    mapping:\n" + mapping)
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert problems == [
        f"{path}:4: systems.crm.mapping: identifier kind 'loyalty_id' is not "
        "known (declare it under identity.extra_kinds)"
    ]
    declared = load_config(write(tmp_path, text + "identity:\n  extra_kinds: [loyalty_id]\n"))
    assert "loyalty_id" in declared.identity.kinds
    assert list(declared.mapping_of("crm").identifiers) == ["email", "loyalty_id"]


def test_unknown_strong_key(tmp_path):
    path = write(tmp_path, config_text(crm(), "identity:\n  strong_keys: [member_no]\n"))
    assert problems_of(path) == [
        f"{path}:12: identity.strong_keys: unknown identifier kind 'member_no'"
    ]


def test_durations_in_config(tmp_path):
    text = config_text(
        crm("    latency_sla: 3d\n"),
        "policy:\n  latency_sla: 72h\n  sync_window: 3600\n"
        "thresholds:\n  sync_latency_p95: {warn: 24h, fail: 90000}\n",
    )
    config = load_config(write(tmp_path, text))
    assert config.systems["crm"].latency_sla == timedelta(days=3)
    assert config.policy.latency_sla == timedelta(hours=72)
    assert config.policy.sync_window == timedelta(hours=1)
    assert config.thresholds.sync_latency_p95.warn == 86400.0
    assert config.thresholds.sync_latency_p95.fail == 90000.0
    assert config.latency_sla_of("crm") == timedelta(days=3)


def test_defaults(tmp_path):
    config = load_config(write(tmp_path, config_text(crm())))
    assert config.policy.latency_sla == timedelta(hours=72)
    assert config.policy.regrant_requires_evidence is True
    assert config.identity.strong_keys == ["customer_id"]
    assert config.identity.default_region == "US"
    assert config.as_of is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("72h", timedelta(hours=72)),
        ("3d", timedelta(days=3)),
        ("45m", timedelta(minutes=45)),
        ("1w", timedelta(weeks=1)),
        (" 90 S ", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("600", timedelta(seconds=600)),
        (3600, timedelta(hours=1)),
        (2.5, timedelta(seconds=2.5)),
    ],
)
def test_parse_duration(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["soon", "3 days", "-1h", "h", True])
def test_parse_duration_rejects(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("marketing/email", ("marketing", "email", "*")),
        ("marketing", ("marketing", "*", "*")),
        ("marketing/email/newsletter", ("marketing", "email", "newsletter")),
        (" Marketing / SMS ", ("marketing", "sms", "*")),
        ({"purpose": "analytics"}, ("analytics", "*", "*")),
        ({"purpose": "marketing", "scope": "brand_a"}, ("marketing", "*", "brand_a")),
        (["advertising", "web", "*"], ("advertising", "web", "*")),
    ],
)
def test_parse_key(value, expected):
    assert parse_key(value) == expected


@pytest.mark.parametrize(
    "value", ["a/b/c/d", "e mail", "marketing/", {"purpose": "x", "kind": "y"}, 42]
)
def test_parse_key_rejects(value):
    with pytest.raises(ValueError):
        parse_key(value)


def test_key_covers():
    assert key_covers(("marketing", "*", "*"), ("marketing", "email", "news"))
    assert key_covers(("marketing", "email", "*"), ("marketing", "email", "*"))
    assert not key_covers(("marketing", "email", "*"), ("marketing", "sms", "*"))
    assert not key_covers(("marketing", "email", "news"), ("marketing", "email", "*"))


def test_authority_keys_are_parsed(tmp_path):
    text = config_text(
        crm(),
        "policy:\n  authorities:\n    - {key: marketing/email, system: crm}\n"
        "    - key: {purpose: analytics}\n      system: crm\n",
    )
    rules = load_config(write(tmp_path, text)).policy.authorities
    assert [(r.key, r.system) for r in rules] == [
        (("marketing", "email", "*"), "crm"),
        (("analytics", "*", "*"), "crm"),
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01 12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("'2024-05-01T12:00:00'", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_as_of_is_utc(tmp_path, written, expected):
    config = load_config(write(tmp_path, f"as_of: {written}\n" + config_text(crm())))
    assert config.as_of == expected
    assert config.as_of.utcoffset() == timedelta(0)


def test_version_other_than_1(tmp_path):
    path = write(tmp_path, "version: 2\n" + config_text(crm()))
    assert problems_of(path) == [f"{path}:1: version: only config version 1 is known"]


def test_config_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="an audit config is a YAML mapping"):
        load_config(path)


def test_systems_required(tmp_path):
    path = write(tmp_path, "name: empty\n")
    assert problems_of(path)[0].startswith(f"{path}:1: systems: Field required")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"purpose": "marketing"}, "give exactly one of 'state', 'list' or 'signal'"),
        ({"state": "denied"}, "'purpose' is required"),
        ({"purpose": "m", "state": {"column": "X"}}, "give a 'vocabulary', 'values', or both"),
    ],
)
def test_mapping_rule_validation(rule, message):
    with pytest.raises(ValueError, match=message):
        Mapping.model_validate({"identifiers": {"email": {"column": "E"}}, "preferences": [rule]})


def test_mapping_needs_an_identifier():
    with pytest.raises(ValueError, match="at least one identifier is required"):
        Mapping.model_validate(
            {"identifiers": {}, "preferences": [{"purpose": "marketing", "state": "denied"}]}
        )


def test_columns_used_skips_file_name_fields():
    mapping = Mapping.model_validate(
        {
            "identifiers": {"email": {"column": "Email"}},
            "file_name_fields": {"Status": "members_([a-z]+)"},
            "updated_at": {"column": ["Changed", "Created"]},
            "preferences": [
                {"purpose": "marketing", "state": {"column": "Status", "values": {"x": "denied"}}}
            ],
        }
    )
    assert mapping.columns_used() == [
        ("identifiers.email", "Email"),
        ("updated_at", "Changed or Created"),
    ]
