"""Mapping mechanics the vendor presets need: ZIP archives, exploded arrays,
``extends`` and ``params``, column patterns and repeated identifier columns."""

from __future__ import annotations

import hashlib
import json
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from prefsync_audit import _archive
from prefsync_audit import config as config_module
from prefsync_audit.config import IdentityConfig, load_config, load_mapping
from prefsync_audit.errors import ConfigError, InputError
from prefsync_audit.load import ROW, load_file, resolve_paths
from prefsync_audit.mapper import map_file
from prefsync_audit.mapping import Mapping
from prefsync_audit.normalize import sha256_hex
from prefsync_audit.resolve import identifier_links, resolve_identities

IDENTITY = IdentityConfig()


def mapping(text: str) -> Mapping:
    return Mapping.model_validate(yaml.safe_load(textwrap.dedent(text)))


def mapped(path: Path, m: Mapping):
    table = load_file(path, m, "sys", path)
    result = map_file(table, m, IDENTITY, strict_columns=not path.name.endswith("json"))
    acc = result.accounting
    assert acc["rows_read"] == acc["rows_mapped"] + acc["rows_quarantined"] + acc["rows_ignored"]
    return table, result


def obs(result, *columns):
    columns = columns or ("record_key", "purpose", "channel", "scope", "state", "raw_value")
    frame = result.observations[list(columns)]
    return sorted(
        (tuple(None if v is not pd.NaT and pd.isna(v) else v for v in row))
        for row in frame.itertuples(index=False)
    )


# --- ZIP archives -----------------------------------------------------------------

STATUS_MAPPING = """
file_name_fields: {status: '^([a-z]+)_'}
identifiers: {email: {column: Email Address}}
preferences:
  - purpose: marketing
    channel: email
    state: {column: status, values: {subscribed: granted, unsubscribed: denied}}
"""


def make_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def test_zip_yields_one_table_per_data_member(tmp_path):
    archive = make_zip(
        tmp_path / "audience.zip",
        {
            "unsubscribed_email_audience_export_9.csv": "Email Address\nb@x.com\n",
            "subscribed_email_audience_export_9.csv": "Email Address\na@x.com\nc@x.com\n",
            "__MACOSX/._subscribed_email_audience_export_9.csv": "junk",
            ".DS_Store": "junk",
            "README.md": "not data",
            "nested/": "",
        },
    )
    paths = resolve_paths(["audience.zip"], tmp_path, "esp")
    assert [p.name for p in paths] == [
        "audience.zip:subscribed_email_audience_export_9.csv",
        "audience.zip:unsubscribed_email_audience_export_9.csv",
    ]
    m = mapping(STATUS_MAPPING)
    table, result = mapped(paths[0], m)
    assert table.frame["status"].tolist() == ["subscribed", "subscribed"]
    # The digest is of the member itself, as `sha256sum` of the extracted file.
    assert table.sha256 == hashlib.sha256(b"Email Address\na@x.com\nc@x.com\n").hexdigest()
    assert obs(result, "state") == [("granted",), ("granted",)]
    assert obs(mapped(paths[1], m)[1], "state") == [("denied",)]
    assert archive.is_file()


def test_zip_members_in_a_folder_of_the_archive_and_gz(tmp_path):
    import gzip

    make_zip(
        tmp_path / "export.zip",
        {"export/cleaned_members.csv.gz": gzip.compress(b"Email Address\nz@x.com\n")},
    )
    (path,) = resolve_paths(["export.zip"], tmp_path, "esp")
    table, _ = mapped(path, mapping(STATUS_MAPPING))
    # file_name_fields read the member's own name, not its folder.
    assert table.frame["status"].tolist() == ["cleaned"]


def test_zip_in_a_folder_or_glob_is_expanded(tmp_path):
    folder = tmp_path / "mailchimp"
    folder.mkdir()
    make_zip(folder / "a.zip", {"subscribed_1.csv": "Email Address\na@x.com\n"})
    (folder / "extra.csv").write_text("Email Address\nq@x.com\n")
    found = resolve_paths(["mailchimp"], tmp_path, "esp")
    assert [str(p.relative_to(tmp_path)) for p in found] == [
        "mailchimp/a.zip:subscribed_1.csv",
        "mailchimp/extra.csv",
    ]
    assert resolve_paths(["mailchimp/*.zip"], tmp_path, "esp") == found[:1]


@pytest.mark.parametrize("name", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv", "C:/x.csv"])
def test_zip_with_path_traversal_is_refused(tmp_path, name):
    make_zip(tmp_path / "bad.zip", {"ok.csv": "Email Address\na@x.com\n", name: "x"})
    with pytest.raises(InputError, match=r"bad\.zip: member .*\(path traversal\)"):
        resolve_paths(["bad.zip"], tmp_path, "esp")


def test_zip_bomb_is_refused(tmp_path, monkeypatch):
    make_zip(tmp_path / "bomb.zip", {"subscribed_1.csv": "Email Address\n" + "a" * 5000})
    monkeypatch.setattr(_archive, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(InputError, match=r"bomb\.zip: members expand to 5014 bytes, more than"):
        resolve_paths(["bomb.zip"], tmp_path, "esp")


def test_zip_without_data_or_broken(tmp_path):
    make_zip(tmp_path / "empty.zip", {"notes.md": "hello"})
    with pytest.raises(InputError, match=r"empty\.zip: no CSV"):
        resolve_paths(["empty.zip"], tmp_path, "esp")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputError, match=r"broken\.zip: not a readable ZIP archive"):
        resolve_paths(["broken.zip"], tmp_path, "esp")


def test_zip_member_provenance_in_the_audit(tmp_path):
    make_zip(tmp_path / "aud.zip", {"unsubscribed_x.csv": "Email Address\nb@x.com\n"})
    (tmp_path / "audit.yaml").write_text(
        "systems:\n  esp:\n    paths: aud.zip\n    mapping:\n"
        + textwrap.indent(textwrap.dedent(STATUS_MAPPING), "      ")
    )
    from prefsync_audit.audit import load_canonical

    canonical = load_canonical(load_config(tmp_path / "audit.yaml"))
    assert canonical.inputs["path"].tolist() == ["aud.zip:unsubscribed_x.csv"]
    assert canonical.records["source_file"].tolist() == ["aud.zip:unsubscribed_x.csv"]


# --- explode ---------------------------------------------------------------------------

ONETRUST = [
    {
        "Identifier": "ana@x.com",
        "Purposes": [
            {"Name": "Email Marketing", "Status": "ACTIVE", "ConsentDate": "2024-01-02T00:00:00Z"},
            {"Name": "Analytics", "Status": "WITHDRAWN", "ConsentDate": "not a date"},
            {"Name": "Profiling", "Status": "ACTIVE", "ConsentDate": None},
        ],
    },
    {"Identifier": "ben@x.com", "Purposes": []},
    {"Identifier": "cleo@x.com"},
    {"Identifier": "dan@x.com", "Purposes": "oops"},
    {"Identifier": "", "Purposes": [{"Name": "Analytics", "Status": "ACTIVE"}]},
]
EXPLODE_MAPPING = """
explode: Purposes
identifiers: {email: {column: Identifier}}
updated_at: {column: Purposes.ConsentDate}
preferences:
  - purpose: {column: Purposes.Name, values: {Email Marketing: marketing, Analytics: analytics}}
    state: {column: Purposes.Status, values: {ACTIVE: granted, WITHDRAWN: denied}}
  - {purpose: known_to_cmp, state: granted}
"""


def test_explode_one_row_per_element_and_accounting(tmp_path):
    path = tmp_path / "subjects.json"
    path.write_text(json.dumps(ONETRUST))
    table, result = mapped(path, mapping(EXPLODE_MAPPING))
    assert table.frame[[ROW, "Identifier", "Purposes.Name"]].values.tolist() == [
        [1, "ana@x.com", "Email Marketing"],
        [1, "ana@x.com", "Analytics"],
        [1, "ana@x.com", "Profiling"],
        [2, "ben@x.com", None],
        [3, "cleo@x.com", None],
        [5, "", "Analytics"],
    ]
    # Rows are array elements (an empty or missing array is one row); a value that is
    # not an array is a bad row of its record.
    assert result.accounting == {
        "rows_read": 7,
        "rows_mapped": 4,
        "rows_quarantined": 3,
        "rows_ignored": 0,
    }
    assert result.quarantine[["source_row", "reason"]].values.tolist() == [
        [1, "unreadable timestamp in Purposes.ConsentDate"],
        [4, "Purposes is not a JSON array"],
        [5, "no identifier"],
    ]
    # One record per source record; the record-level rule is observed once per record.
    assert result.records[["source_row", "email"]].values.tolist() == [
        [1, "ana@x.com"],
        [2, "ben@x.com"],
        [3, "cleo@x.com"],
    ]
    assert obs(result, "record_key", "purpose", "state") == [
        (0, "known_to_cmp", "granted"),
        (0, "marketing", "granted"),
        (1, "known_to_cmp", "granted"),
        (2, "known_to_cmp", "granted"),
    ]
    # "Profiling" is not in the values map: unmapped, once.
    assert result.unmapped[["record_key", "source_column", "raw_value"]].values.tolist() == [
        [0, "Purposes.Name", "Profiling"]
    ]


def test_explode_scalar_arrays_nested_paths_and_csv(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps({"email": "a@x.com", "sub": {"tags": ["vip", "eu"]}})
        + "\n"
        + json.dumps({"email": "b@x.com", "sub": {"tags": {"single": "object"}}})
        + "\n"
    )
    m = mapping(
        """
        explode: sub.tags
        identifiers: {email: {column: email}}
        preferences: [{purpose: marketing, scope: {column: sub.tags}, state: granted}]
        """
    )
    table, result = mapped(path, m)
    assert table.frame["sub.tags"].tolist() == ["vip", "eu", None]
    assert table.frame["sub.tags.single"].tolist() == [None, None, "object"]
    assert obs(result, "record_key", "scope") == [(0, "eu"), (0, "vip")]
    csv = tmp_path / "c.csv"
    csv.write_text('email,sub.tags\na@x.com,"[""x"", ""y""]"\nb@x.com,\n')
    table, result = mapped(csv, m)
    assert table.frame["sub.tags"].tolist() == ["x", "y", None]
    assert result.accounting["rows_read"] == 3


def test_explode_identifiers_inside_elements_make_a_record_per_row(tmp_path):
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([{"batch": "b1", "people": [{"e": "a@x.com"}, {"e": "b@x.com"}]}]))
    m = mapping(
        """
        explode: people
        record_id: batch
        identifiers: {email: {column: people.e}}
        preferences: [{purpose: marketing, state: denied}]
        """
    )
    _, result = mapped(path, m)
    assert result.records["email"].tolist() == ["a@x.com", "b@x.com"]
    assert obs(result, "record_key", "state") == [(0, "denied"), (1, "denied")]


# --- column patterns ---------------------------------------------------------------

HUBSPOT = """
identifiers: {email: {column: email}}
params:
  subscription_types: {"111": newsletter, "222": product_updates, "333": ignore}
preferences:
  - purpose: marketing
    channel: email
    scope: {group: id, values: param:subscription_types}
    state:
      column_pattern: 'hs_email_optout_(?P<id>\\d+)'
      vocabulary: boolean
      invert: true
"""


def test_column_pattern_rule(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "email,hs_email_optout,hs_email_optout_111,hs_email_optout_222,hs_email_optout_333,"
        "hs_email_optout_999\n"
        "a@x.com,false,true,false,true,true\n"
        "b@x.com,false,,false,,\n"
    )
    _, result = mapped(path, mapping(HUBSPOT))
    assert obs(result, "record_key", "scope", "state", "raw_value") == [
        (0, "newsletter", "denied", "true"),
        (0, "product_updates", "granted", "false"),
        (1, "product_updates", "granted", "false"),
    ]
    assert result.observations["source_column"].tolist() == [
        "hs_email_optout_111",
        "hs_email_optout_222",
        "hs_email_optout_222",
    ]
    # An id the map does not know: unmapped, for non-blank cells only.
    assert result.unmapped[["record_key", "source_column", "raw_value"]].values.tolist() == [
        [0, "hs_email_optout_999", "999"]
    ]


def test_column_pattern_without_values_uses_the_match(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("email,Opt Out Brand A,Opt Out Brand B\na@x.com,TRUE,FALSE\n")
    m = mapping(
        """
        identifiers: {email: {column: email}}
        preferences:
          - purpose: marketing
            scope: {group: 1}
            state: {column_pattern: 'Opt Out (.+)', vocabulary: boolean, invert: true}
        """
    )
    _, result = mapped(path, m)
    assert obs(result, "scope", "state") == [("brand_a", "denied"), ("brand_b", "granted")]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{purpose: m, scope: {group: 1}, state: {column: X, values: {y: denied}}}",
            "scope.group needs a state 'column_pattern'",
        ),
        (
            "{purpose: m, scope: {group: 2}, state: {column_pattern: 'a(b)', vocabulary: boolean}}",
            "scope.group 2 is not a group of the column_pattern",
        ),
        (
            "{purpose: m, scope: {group: x}, state: {column_pattern: 'a(b)', vocabulary: boolean}}",
            "scope.group 'x' is not a group of the column_pattern",
        ),
        (
            "{purpose: m, state: {column_pattern: 'a(', vocabulary: boolean}}",
            "not a regular expression",
        ),
        (
            "{purpose: m, state: {column: a, column_pattern: a, vocabulary: boolean}}",
            "exactly one of 'column' or 'column_pattern'",
        ),
        ("{purpose: {values: {}}, state: denied}", "exactly one of 'column' or 'group'"),
    ],
)
def test_column_pattern_validation(rule, message):
    with pytest.raises(ValueError, match=message):
        Mapping.model_validate(
            {"identifiers": {"email": {"column": "E"}}, "preferences": [yaml.safe_load(rule)]}
        )


# --- repeated identifier columns -------------------------------------------------


def test_repeated_identifier_columns_all_link(tmp_path):
    path = tmp_path / "cm.csv"
    hashed = sha256_hex("a2@x.com")
    path.write_text(
        f"Email,Email,Phone,Email\na1@x.com,{hashed},+12125550100,A1@x.com\n,,,b@x.com\n,bad,,\n"
    )
    m = mapping(
        """
        identifiers:
          email_sha256: {column: Email, repeated: true, profile: google}
          phone_sha256: {column: Phone, repeated: true}
        preferences: [{purpose: advertising, state: granted}]
        """
    )
    _, result = mapped(path, m)
    records = result.records
    assert list(records.columns) == [
        "source_row",
        "record_id",
        "email_sha256",
        "email_sha256#2",
        "phone_sha256",
    ]
    # Distinct values per row, first first; duplicates after normalization collapse.
    assert records["email_sha256"].tolist() == [sha256_hex("a1@x.com"), sha256_hex("b@x.com")]
    assert records["email_sha256#2"].tolist() == [hashed, None]
    assert result.invalid_identifiers == {"email_sha256": 1, "phone_sha256": 0}
    assert result.quarantine["reason"].tolist() == ["no usable identifier (invalid values)"]

    records = records.reset_index(names="record_key")
    links = identifier_links(records, ["email_sha256", "phone_sha256"], {})
    assert sorted(links[links["record_key"] == 0]["value"]) == sorted(
        [sha256_hex("a1@x.com"), hashed, sha256_hex("+12125550100")]
    )


def test_repeated_values_link_plain_systems_and_hashed_unmatched():
    records = pd.DataFrame(
        {
            "record_key": [0, 1, 2, 3],
            "system": ["crm", "crm", "ads", "ads"],
            "email": ["a@x.com", "b@x.com", None, None],
            "email_sha256": [None, None, sha256_hex("zz@x.com"), sha256_hex("nobody@x.com")],
            "email_sha256#2": [None, None, sha256_hex("b@x.com"), None],
        }
    )
    resolution = resolve_identities(records, IDENTITY, {"email": {"plain"}})
    persons = resolution.person_of_record
    assert persons[1] == persons[2]  # via the second hashed value
    assert resolution.hashed_unmatched.to_dict("records") == [
        {"system": "ads", "hashed_records": 2, "unmatched": 1}
    ]


# --- extends and params ----------------------------------------------------------

PRESET = """\
description: Vendor contacts
format: csv
identifiers:
  email: {column: Email}
csv: {delimiter: ";"}
params:
  lists: {"1": newsletter}
vocabularies:
  status: {subscribed: granted, unsubscribed: denied}
updated_at: {column: Changed}
preferences:
  - purpose: marketing
    channel: email
    scope: {column: List, values: param:lists}
    state: {column: Status, vocabulary: status}
"""


@pytest.fixture
def presets(tmp_path, monkeypatch):
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "vendor.yaml").write_text(PRESET)
    monkeypatch.setattr(config_module, "presets_dir", lambda: folder)
    return folder


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_extends_merges_maps_and_replaces_lists(tmp_path, presets):
    child = write(
        tmp_path / "mine.yaml",
        """\
        extends: preset:vendor
        params:
          lists: {"2": offers}
        csv: {encoding: latin-1}
        vocabularies:
          status: {cleaned: ignore}
        updated_at: null
        """,
    )
    m = load_mapping("mine.yaml", tmp_path)
    assert m.extends == "preset:vendor"
    assert m.description == "Vendor contacts"
    assert (m.csv.delimiter, m.csv.encoding) == (";", "latin-1")
    assert m.vocabularies["status"] == {
        "subscribed": "granted",
        "unsubscribed": "denied",
        "cleaned": "ignore",
    }
    assert m.updated_at is None
    # Params merge key by key and reach the rule that refers to them.
    assert m.params == {"lists": {"1": "newsletter", "2": "offers"}}
    assert m.preferences[0].scope.values == {"1": "newsletter", "2": "offers"}
    assert child.is_file()

    write(
        tmp_path / "rules.yaml",
        """\
        extends: preset:vendor
        preferences:
          - {purpose: marketing, channel: sms, state: denied}
        """,
    )
    m = load_mapping("rules.yaml", tmp_path)
    # Lists are replaced whole; a param no rule uses any more is fine when the
    # preset declared it.
    assert [r.channel for r in m.preferences] == ["sms"]


def test_extends_a_file_relative_to_the_child_and_chains(tmp_path, presets):
    (tmp_path / "base").mkdir()
    write(tmp_path / "base" / "mid.yaml", "extends: preset:vendor\ndescription: mid\n")
    write(tmp_path / "child.yaml", "extends: base/mid.yaml\nparams: {lists: {}}\n")
    m = load_mapping("child.yaml", tmp_path)
    assert m.description == "mid"
    assert m.preferences[0].scope.values == {"1": "newsletter"}


def test_inline_mapping_extends_a_preset(tmp_path, presets):
    config = write(
        tmp_path / "audit.yaml",
        """\
        systems:
          esp:
            paths: esp.csv
            mapping:
              extends: preset:vendor
              params:
                lists: {"7": promotions}
        """,
    )
    loaded = load_config(config)
    assert loaded.mapping_of("esp").preferences[0].scope.values == {
        "1": "newsletter",
        "7": "promotions",
    }


def problems(path: Path, reference: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        if reference:
            load_mapping(reference, path.parent)
        else:
            load_config(path)
    return info.value.problems


def test_params_errors_are_located(tmp_path, presets):
    child = write(
        tmp_path / "c.yaml",
        """\
        extends: preset:vendor
        params:
          list: {"2": offers}
        """,
    )
    assert problems(child, "c.yaml") == [
        f"{child}:3: params.list: no rule uses this param (check the spelling)"
    ]
    write(
        tmp_path / "d.yaml",
        """\
        extends: preset:vendor
        preferences:
          - purpose: marketing
            scope: {column: List, values: param:nope}
            state: denied
        """,
    )
    assert problems(tmp_path / "d.yaml", "d.yaml") == [
        f"{tmp_path / 'd.yaml'}:4: preferences[0].scope.values: unknown param 'nope' "
        "(declared: lists)"
    ]


def test_a_bad_param_value_is_reported_where_it_was_written(tmp_path, presets):
    child = write(
        tmp_path / "c.yaml",
        """\
        extends: preset:vendor
        params:
          lists:
            "2": [not, text]
        """,
    )
    (problem,) = problems(child, "c.yaml")
    assert problem.startswith(f"{child}:4: params.lists.2: Input should be a valid string")


def test_errors_in_the_parent_name_the_parent(tmp_path, presets):
    (presets / "broken.yaml").write_text(PRESET + "    bogus: 1\n")
    write(tmp_path / "c.yaml", "extends: preset:broken\n")
    assert problems(tmp_path / "c.yaml", "c.yaml") == [
        f"{presets / 'broken.yaml'}:16: preferences[0].bogus: unknown key (check the spelling)"
    ]


def test_extends_problems(tmp_path, presets):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    (problem,) = problems(tmp_path / "a.yaml", "a.yaml")
    assert problem.endswith("extends: extends itself (a.yaml → b.yaml → a.yaml)")
    write(tmp_path / "u.yaml", "extends: preset:nope\n")
    assert problems(tmp_path / "u.yaml", "u.yaml") == [
        f"{tmp_path / 'u.yaml'}:1: extends: unknown preset 'nope' (known: vendor)"
    ]
    write(tmp_path / "m.yaml", "extends: missing.yaml\n")
    (problem,) = problems(tmp_path / "m.yaml", "m.yaml")
    assert problem.endswith("missing.yaml: file not found")
    write(tmp_path / "n.yaml", "extends: [preset:vendor]\n")
    (problem,) = problems(tmp_path / "n.yaml", "n.yaml")
    assert problem.endswith("extends: give 'preset:NAME' or a mapping file path")


def test_params_without_extends_and_in_model_validate():
    m = Mapping.model_validate(
        {
            "identifiers": {"email": {"column": "E"}},
            "params": {"names": {"Ads": "advertising"}},
            "preferences": [
                {"purpose": {"column": "P", "values": "param:names"}, "state": "denied"}
            ],
        }
    )
    assert m.preferences[0].purpose.values == {"Ads": "advertising"}
    with pytest.raises(ValueError, match=r"preferences\.0\.purpose\.values: unknown param 'x'"):
        Mapping.model_validate(
            {
                "identifiers": {"email": {"column": "E"}},
                "preferences": [
                    {"purpose": {"column": "P", "values": "param:x"}, "state": "denied"}
                ],
            }
        )


def test_a_null_param_means_no_value_map(tmp_path, presets):
    write(tmp_path / "c.yaml", "extends: preset:vendor\nparams: {lists: null}\n")
    m = load_mapping("c.yaml", tmp_path)
    assert m.preferences[0].scope.values is None


def test_key_part_default_for_values_the_map_does_not_know(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "email,Purpose,Status\na@x.com,Email Marketing,ACTIVE\na@x.com,Surveys,ACTIVE\n"
    )
    m = mapping(
        """
        identifiers: {email: {column: email}}
        preferences:
          - purpose: {column: Purpose, values: {Email Marketing: marketing, Surveys: research}}
            channel: {column: Purpose, values: {Email Marketing: email}, default: "*"}
            state: {column: Status, values: {ACTIVE: granted}}
        """
    )
    _, result = mapped(path, m)
    assert obs(result, "purpose", "channel") == [("marketing", "email"), ("research", "*")]
    assert result.unmapped.empty


def test_a_child_removes_an_identifier_with_null(tmp_path, presets):
    write(
        tmp_path / "c.yaml",
        "extends: preset:vendor\nidentifiers: {email: null, phone: {column: Tel}}\n",
    )
    assert list(load_mapping("c.yaml", tmp_path).identifiers) == ["phone"]


def test_unknown_keys_stay_errors_at_every_new_level():
    base = {"identifiers": {"email": {"column": "E", "repeat": True}}, "preferences": []}
    with pytest.raises(ValueError, match=r"identifiers\.email\.repeat"):
        Mapping.model_validate(base)
    with pytest.raises(ValueError, match="explodes"):
        Mapping.model_validate({"explodes": "x", **base})
