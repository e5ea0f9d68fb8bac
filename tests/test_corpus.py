"""The hostile and broken input corpus: one test per case, driven through the CLI.

Every case ends in exactly one of two ways, and each test asserts which:

* a **one-line error** (an :class:`AuditError`, exit 2 from ``main``) naming the
  file and the place (line, key path, member);
* a **quarantine**: the run completes, and every input row is accounted for
  (``rows_read = rows_mapped + rows_quarantined + rows_ignored``) with the exact
  reasons counted in the summary.

Never a traceback, never a hang. Small cases live in ``tests/corpus/`` (see its
README); binary, large or filesystem cases (encodings, NUL bytes, 1 MB fields,
gzip, ZIP, Parquet, symlinks) are generated in ``tmp_path``. A few cases run
through ``python -m prefsync_audit`` to check the exit code and the single
stderr line of the real entry point.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsync_audit import _archive, load
from prefsync_audit.cli import app
from prefsync_audit.errors import AuditError, ConfigError, InputError

CORPUS = Path(__file__).parent / "corpus"

#: The mapping every export case is read with (JSON and Parquet cases too).
MAPPING = """\
      identifiers: {email: {column: Email}, phone: {column: Phone}}
      updated_at: {column: Updated}
      preferences:
        - {purpose: marketing, channel: email, state: {column: OptIn, vocabulary: boolean}}
"""
HEADER = "Email,Phone,Updated,OptIn\n"
GOOD_ROW = "a@example.com,+12025550100,2026-01-01T00:00:00Z,true\n"


def write_config(
    folder: Path, paths: str = "crm.csv", mapping: str = MAPPING, extra: str = ""
) -> Path:
    """An ``audit.yaml`` in ``folder`` with one system ``crm``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "audit.yaml"
    config.write_text(
        "as_of: 2026-03-01T00:00:00Z\n"
        "systems:\n"
        "  crm:\n"
        f"    paths: {paths}\n"
        "    mapping:\n" + extra + mapping
    )
    return config


def export(tmp_path: Path, name: str, content: bytes | str | None = None, **config) -> Path:
    """A config reading one export: ``content``, or the corpus file ``name``."""
    folder = tmp_path / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    if content is None:
        shutil.copy(CORPUS / name, folder / name)
    else:
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return write_config(folder, paths=name, **config)


def invoke(config: Path, *args: str):
    return CliRunner().invoke(app, ["run", str(config), "--format", "json", *args])


def validates(config: Path, *args: str) -> bool:
    """``validate`` (loads, reads and maps every export, without auditing) passes."""
    result = CliRunner().invoke(app, ["validate", str(config), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code == 0


def summary_of(result) -> dict:
    """The JSON summary of a run that must have completed."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error_of(result, kind: type[AuditError], tmp_path: Path) -> str:
    """The one-line message of a user error (``TMP`` standing for ``tmp_path``)."""
    assert isinstance(result.exception, kind), repr(result.exception)
    message = str(result.exception)
    assert "\n" not in message
    return message.replace(str(tmp_path), "TMP")


def accounting(summary: dict) -> dict:
    (entry,) = summary["inputs"]
    counts = {k: entry[k] for k in ("rows_read", "rows_mapped", "rows_quarantined", "rows_ignored")}
    assert counts["rows_read"] == (
        counts["rows_mapped"] + counts["rows_quarantined"] + counts["rows_ignored"]
    )
    return counts


def reasons(summary: dict) -> dict[str, int]:
    return {entry["reason"]: entry["rows"] for entry in summary["quarantine"]["by_reason"]}


def counts(read: int, mapped: int, quarantined: int, ignored: int = 0) -> dict:
    return {
        "rows_read": read,
        "rows_mapped": mapped,
        "rows_quarantined": quarantined,
        "rows_ignored": ignored,
    }


# --- CSV structure ------------------------------------------------------------------


def test_ragged_rows_are_quarantined(tmp_path):
    summary = summary_of(invoke(export(tmp_path, "ragged.csv")))
    assert accounting(summary) == counts(read=4, mapped=2, quarantined=2)
    assert reasons(summary) == {"expected 4 columns, found 2": 1, "expected 4 columns, found 5": 1}


def test_unterminated_quote_is_an_error_at_its_line(tmp_path):
    message = error_of(invoke(export(tmp_path, "unterminated_quote.csv")), InputError, tmp_path)
    assert message == (
        "TMP/audit/unterminated_quote.csv: line 3: a quoted field opens here and is never "
        "closed (a truncated file or a stray quote); every later row would be swallowed"
    )


def test_unterminated_quote_in_the_last_column_is_an_error_too(tmp_path):
    # Read naively, the row is "valid": its last value swallows every later row.
    config = export(tmp_path, "unterminated_quote_last_column.csv")
    message = error_of(invoke(config), InputError, tmp_path)
    assert message.startswith(
        "TMP/audit/unterminated_quote_last_column.csv: line 3: a quoted field opens here"
    )


def test_header_only_file_has_no_rows(tmp_path):
    summary = summary_of(invoke(export(tmp_path, "header_only.csv")))
    assert accounting(summary) == counts(read=0, mapped=0, quarantined=0)


def test_empty_file_is_an_error(tmp_path):
    message = error_of(invoke(export(tmp_path, "empty.csv")), InputError, tmp_path)
    assert message == "TMP/audit/empty.csv: empty file (no header row)"


def test_duplicate_column_names_are_numbered(tmp_path):
    # The second "Email" is read as "Email#2"; with `repeated` both addresses link.
    mapping = MAPPING.replace("{email: {column: Email}", "{email: {column: Email, repeated: true}")
    config = export(tmp_path, "duplicate_columns.csv", mapping=mapping)
    summary = summary_of(invoke(config))
    assert accounting(summary) == counts(read=2, mapped=2, quarantined=0)
    assert summary["identity"]["persons"] == 2


def test_utf8_byte_order_mark_is_skipped(tmp_path):
    summary = summary_of(invoke(export(tmp_path, "bom.csv")))
    assert accounting(summary) == counts(read=1, mapped=1, quarantined=0)


def test_mapping_naming_a_missing_column_is_an_error(tmp_path):
    message = error_of(invoke(export(tmp_path, "missing_column.csv")), InputError, tmp_path)
    assert message == "missing_column.csv: mapped column(s) not in the file: Phone (system crm)"


# --- Encodings and bytes ------------------------------------------------------------

LATIN1 = (HEADER + GOOD_ROW + "josé@example.com,,2026-01-01T00:00:00Z,true\n").encode("latin-1")


def test_latin1_declared_is_read(tmp_path):
    config = export(tmp_path, "crm.csv", LATIN1, extra="      csv: {encoding: latin-1}\n")
    summary = summary_of(invoke(config))
    assert accounting(summary) == counts(read=2, mapped=2, quarantined=0)
    assert summary["identity"]["persons"] == 2


def test_latin1_undeclared_is_an_error_naming_the_line(tmp_path):
    message = error_of(invoke(export(tmp_path, "crm.csv", LATIN1)), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.csv: line 3: byte 0xe9 cannot be decoded as utf-8; set csv.encoding "
        "in the mapping (e.g. latin-1, cp1252 or utf-16)"
    )


def test_invalid_utf8_past_the_first_block_names_its_line(tmp_path):
    rows = [f"user{i}@example.com,,2026-01-01T00:00:00Z,true\n" for i in range(5000)]
    rows[4321] = "caf\xe9@example.com,,2026-01-01T00:00:00Z,true\n"
    content = HEADER.encode() + "".join(rows).encode("latin-1")
    message = error_of(invoke(export(tmp_path, "crm.csv", content)), InputError, tmp_path)
    assert message.startswith("TMP/audit/crm.csv: line 4323: byte 0xe9 cannot be decoded")


def test_utf16_declared_is_read(tmp_path):
    content = (HEADER + GOOD_ROW).encode("utf-16")
    config = export(tmp_path, "crm.csv", content, extra="      csv: {encoding: utf-16}\n")
    summary = summary_of(invoke(config))
    assert accounting(summary) == counts(read=1, mapped=1, quarantined=0)


def test_utf16_undeclared_is_an_error(tmp_path):
    content = (HEADER + GOOD_ROW).encode("utf-16")
    message = error_of(invoke(export(tmp_path, "crm.csv", content)), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.csv: line 1: the file looks like UTF-16 (it starts with a UTF-16 "
        "byte-order mark), not UTF-8; set csv.encoding: utf-16 in the mapping"
    )


def test_utf16_without_byte_order_mark_is_an_error(tmp_path):
    content = (HEADER + GOOD_ROW).encode("utf-16-le")
    message = error_of(invoke(export(tmp_path, "crm.csv", content)), InputError, tmp_path)
    assert "looks like UTF-16 (every other byte is NUL)" in message


def test_nul_bytes_quarantine_their_row(tmp_path):
    content = HEADER + GOOD_ROW + "b@example.com\x00,,2026-01-01T00:00:00Z,tr\x00ue\n"
    summary = summary_of(invoke(export(tmp_path, "crm.csv", content)))
    assert accounting(summary) == counts(read=2, mapped=1, quarantined=1)
    assert reasons(summary) == {"a value holds a NUL byte": 1}


def test_nul_byte_in_the_header_is_an_error(tmp_path):
    content = "Em\x00ail,Phone,Updated,OptIn\n" + GOOD_ROW
    message = error_of(invoke(export(tmp_path, "crm.csv", content)), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.csv: line 1: a column name holds a NUL byte (a binary or UTF-16 file?)"
    )


def test_one_megabyte_field_quarantines_its_row(tmp_path):
    blob = "x" * (1 << 20)
    content = HEADER + GOOD_ROW + f"b@example.com,,2026-01-01T00:00:00Z,{blob}\n" + GOOD_ROW
    config = export(tmp_path, "crm.csv", content)
    result = invoke(config)
    summary = summary_of(result)
    assert accounting(summary) == counts(read=3, mapped=2, quarantined=1)
    assert reasons(summary) == {"a value is longer than 262144 bytes": 1}
    assert len(result.stdout) < 100_000  # the blob is not carried into the summary


def test_column_named_like_the_row_number_is_an_error(tmp_path):
    content = "Email,Phone,Updated,OptIn,__row\n" + GOOD_ROW.strip() + ",7\n"
    message = error_of(invoke(export(tmp_path, "crm.csv", content)), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.csv: line 1: a column is named '__row', a name prefsync-audit reserves"
    )


# --- Values ---------------------------------------------------------------------


def test_mixed_timestamp_formats_in_one_column(tmp_path):
    summary = summary_of(invoke(export(tmp_path, "mixed_timestamps.csv")))
    # ISO 8601 in any of its spellings is read; US dates, epoch numbers and words are not
    # (the mapping says ISO 8601): their rows are quarantined, never guessed.
    assert accounting(summary) == counts(read=7, mapped=4, quarantined=3)
    assert reasons(summary) == {"unreadable timestamp in Updated": 3}


def test_impossible_and_far_future_dates_are_quarantined(tmp_path):
    summary = summary_of(invoke(export(tmp_path, "impossible_dates.csv")))
    assert accounting(summary) == counts(read=7, mapped=1, quarantined=6)
    assert reasons(summary) == {"unreadable timestamp in Updated": 6}


def test_invalid_emails_and_phones(tmp_path):
    result = invoke(export(tmp_path, "invalid_identifiers.csv"))
    summary = summary_of(result)
    # Rows 1-3 and 6 have no valid identifier; row 4 keeps its email, row 5 its phone.
    assert accounting(summary) == counts(read=6, mapped=2, quarantined=4)
    assert reasons(summary) == {"no usable identifier (invalid values)": 4}
    assert {(e["kind"], e["values"]) for e in summary["invalid_identifiers"]} == {
        ("email", 4),
        ("phone", 4),
    }
    # The invalid values themselves are never printed.
    for value in ("not-an-email", "secret.person@", "bad two@example.com", "call-me"):
        assert value not in result.stdout


# --- JSON -----------------------------------------------------------------------


def test_json_that_is_not_an_array_is_an_error(tmp_path):
    message = error_of(invoke(export(tmp_path, "not_an_array.json")), InputError, tmp_path)
    assert message == (
        "TMP/audit/not_an_array.json: expected a JSON array of records at the top level"
    )


def test_invalid_json_names_its_line(tmp_path):
    message = error_of(invoke(export(tmp_path, "invalid.json")), InputError, tmp_path)
    assert message == (
        "TMP/audit/invalid.json:3: invalid JSON: Expecting property name enclosed in double quotes"
    )


def test_jsonl_with_one_bad_line(tmp_path):
    summary = summary_of(invoke(export(tmp_path, "one_bad_line.jsonl")))
    assert accounting(summary) == counts(read=4, mapped=2, quarantined=2)
    assert reasons(summary) == {
        "invalid JSON: Expecting value": 1,
        "record is not a JSON object": 1,
    }


def test_json_nested_too_deeply_is_an_error(tmp_path):
    content = "[" * 100_000 + "]" * 100_000
    message = error_of(invoke(export(tmp_path, "crm.json", content)), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.json: the JSON is nested too deeply or holds an oversized number"
    )


def test_jsonl_lines_nested_too_deeply_or_with_huge_numbers_are_quarantined(tmp_path):
    good = '{"Email": "a@example.com", "Updated": "2026-01-01T00:00:00Z", "OptIn": "yes"}'
    deep = '{"Email": "b@example.com", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    huge = '{"Email": "c@example.com", "n": ' + "9" * 5000 + "}"
    content = "\n".join([good, deep, huge]) + "\n"
    summary = summary_of(invoke(export(tmp_path, "crm.jsonl", content)))
    assert accounting(summary) == counts(read=3, mapped=1, quarantined=2)
    assert reasons(summary) == {"JSON nested too deeply or holding an oversized number": 2}


# --- Parquet --------------------------------------------------------------------


def test_parquet_with_unexpected_column_types(tmp_path):
    table = pa.table(
        {
            "Email": pa.array([1.5, None, None, None], pa.float64()),
            "Phone": pa.array([12025550100, 12025550101, 12025550102, None], pa.int64()),
            "Updated": pa.array([date(2026, 1, 1), None, date(2026, 1, 2), None], pa.date32()),
            "OptIn": pa.array([b"\x00\xff", b"true", None, None], pa.binary()),
            "Tags": pa.array([[b"a"], [], None, [b"\xff"]], pa.list_(pa.binary())),
            "Props": pa.array([[(1, 2)], None, [], [(3, 4)]], pa.map_(pa.int64(), pa.int64())),
            "Amount": pa.array([Decimal("1.50"), None, None, None], pa.decimal128(5, 2)),
            "When": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 4, pa.timestamp("ns", tz="UTC")),
            "Nothing": pa.array([None] * 4, pa.null()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    result = invoke(export(tmp_path, "crm.parquet", buffer.getvalue()))
    summary = summary_of(result)
    # Row 1: binary OptIn holding a NUL byte; row 2: the integer is a valid phone and
    # the binary b"true" is text; row 3 has no state (fine); row 4 has no identifier.
    assert accounting(summary) == counts(read=4, mapped=2, quarantined=2)
    assert reasons(summary) == {"a value holds a NUL byte": 1, "no identifier": 1}
    assert summary["unmapped_values"]["rows"] == 0


def test_parquet_past_the_cell_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(load, "MAX_PARQUET_CELLS", 1000)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"Email": ["a@example.com"] * 2000}), buffer)
    message = error_of(
        invoke(export(tmp_path, "crm.parquet", buffer.getvalue())), InputError, tmp_path
    )
    assert message.startswith("TMP/audit/crm.parquet: 2000 rows × 1 columns")
    assert message.endswith("more than the limit of 1000 cells or 2147483648 bytes; refused")


def test_broken_parquet_is_an_error(tmp_path):
    message = error_of(invoke(export(tmp_path, "crm.parquet", b"PAR1 nope")), InputError, tmp_path)
    assert message.startswith("TMP/audit/crm.parquet: cannot read Parquet: ")


# --- Compression and archives -----------------------------------------------------


def test_truncated_gzip_is_an_error(tmp_path):
    data = gzip.compress((HEADER + GOOD_ROW * 2000).encode())
    config = export(tmp_path, "crm.csv.gz", data[: len(data) // 2])
    message = error_of(invoke(config), InputError, tmp_path)
    assert message.startswith("TMP/audit/crm.csv.gz: not a valid gzip file (truncated: ")


def test_gzip_bomb_is_refused_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(load, "MAX_UNCOMPRESSED_BYTES", 1 << 20)
    bomb = gzip.compress(HEADER.encode() + b"0" * (64 << 20), compresslevel=9)
    assert len(bomb) < 100_000
    started = time.perf_counter()
    message = error_of(invoke(export(tmp_path, "crm.csv.gz", bomb)), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.csv.gz: expands to more than the limit of 1048576 bytes "
        "(a decompression bomb?); refused"
    )
    assert time.perf_counter() - started < 10


def test_default_decompression_limit_is_two_gibibytes():
    assert load.MAX_UNCOMPRESSED_BYTES == _archive.MAX_UNCOMPRESSED_BYTES == 2 * 1024**3


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "member", ["../evil.csv", "/etc/evil.csv", "C:/evil.csv", "exports/../../evil.csv"]
)
def test_zip_with_path_traversal_names_is_refused(tmp_path, member):
    data = zip_bytes({"ok.csv": (HEADER + GOOD_ROW).encode(), member: b"x"})
    message = error_of(invoke(export(tmp_path, "crm.zip", data)), InputError, tmp_path)
    assert message == (
        f"TMP/audit/crm.zip: member {member!r} has an absolute path or '..' (path traversal); "
        "the archive is refused"
    )
    assert not (tmp_path / "evil.csv").exists()


def test_zip_bomb_is_refused_from_its_declared_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(_archive, "MAX_UNCOMPRESSED_BYTES", 1 << 20)
    data = zip_bytes({"crm.csv": HEADER.encode() + b"0" * (32 << 20)})
    assert len(data) < 100_000
    message = error_of(invoke(export(tmp_path, "crm.zip", data)), InputError, tmp_path)
    assert message == (
        f"TMP/audit/crm.zip: members expand to {len(HEADER) + (32 << 20)} bytes, more than "
        "the limit of 1048576 (a decompression bomb?); the archive is refused"
    )


def test_zip_member_lying_about_its_size_is_refused(tmp_path):
    payload = (HEADER + GOOD_ROW * 5000).encode()
    data = bytearray(zip_bytes({"crm.csv": payload}))
    # Declare 100 bytes in both the local header and the central directory.
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (100).to_bytes(4, "little")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    message = error_of(invoke(export(tmp_path, "crm.zip", bytes(data))), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.zip:crm.csv: cannot read the member (Bad CRC-32 for file 'crm.csv')"
    )


def test_zip_with_too_many_members_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(_archive, "MAX_MEMBERS", 3)
    data = zip_bytes({f"part{i}.csv": (HEADER + GOOD_ROW).encode() for i in range(4)})
    message = error_of(invoke(export(tmp_path, "crm.zip", data)), InputError, tmp_path)
    assert message == (
        "TMP/audit/crm.zip: 4 data files, more than the limit of 3; the archive is refused"
    )


# --- YAML -----------------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    config = tmp_path / "audit.yaml"
    shutil.copy(CORPUS / "alias_bomb.yaml", config)
    started = time.perf_counter()
    message = error_of(invoke(config), ConfigError, tmp_path)
    assert message == "TMP/audit.yaml:2: document expands to more than 200000 nodes"
    assert time.perf_counter() - started < 10


def test_yaml_python_tag_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "audit.yaml"
    shutil.copy(CORPUS / "python_tag.yaml", config)
    message = error_of(invoke(config), ConfigError, tmp_path)
    assert message == (
        "TMP/audit.yaml:2: name: tag 'tag:yaml.org,2002:python/object/apply:os.system' "
        "is not allowed"
    )
    assert not (tmp_path / "PWNED").exists()


def test_yaml_nested_too_deeply_is_refused(tmp_path):
    config = tmp_path / "audit.yaml"
    config.write_text("name: " + "[" * 10_000 + "]" * 10_000 + "\n")
    started = time.perf_counter()
    assert error_of(invoke(config), ConfigError, tmp_path) == (
        "TMP/audit.yaml:1: nested more than 64 levels deep"
    )
    assert time.perf_counter() - started < 5


def test_yaml_impossible_date_is_an_error_at_its_line(tmp_path):
    config = (
        write_config(tmp_path / "audit")
        .read_text()
        .replace("2026-03-01T00:00:00Z", "2026-02-30T00:00:00Z")
    )
    (tmp_path / "audit.yaml").write_text(config)
    assert error_of(invoke(tmp_path / "audit.yaml"), ConfigError, tmp_path) == (
        "TMP/audit.yaml:1: as_of: cannot read the value: day is out of range for month"
    )


# --- Paths the config names ----------------------------------------------------------


def outside_setup(tmp_path: Path) -> tuple[Path, Path]:
    """A config folder and, beside it, a folder the config must not reach."""
    inside, outside = tmp_path / "audit", tmp_path / "elsewhere"
    inside.mkdir(parents=True)
    outside.mkdir()
    (outside / "crm.csv").write_text(HEADER + GOOD_ROW)
    return inside, outside


def test_export_path_escaping_through_dotdot_is_refused(tmp_path):
    inside, _ = outside_setup(tmp_path)
    config = write_config(inside, paths="../elsewhere/crm.csv")
    assert error_of(invoke(config), ConfigError, tmp_path) == (
        "TMP/audit/audit.yaml:4: systems.crm.paths: '../elsewhere/crm.csv' reads "
        "TMP/elsewhere/crm.csv (through '..'), outside the config's folder TMP/audit; "
        "run with --allow-outside-paths to allow it"
    )
    summary = summary_of(invoke(config, "--allow-outside-paths"))
    assert accounting(summary) == counts(read=1, mapped=1, quarantined=0)


@pytest.mark.parametrize(
    "command",
    [
        ["trace", "{config}", "a@example.com"],
        # One system only: diff, allowed to read it, then says it needs two.
        ["diff", "{config}", "crm", "crm"],
        ["dictionary", "{config}"],
    ],
)
def test_investigation_commands_hold_the_config_to_its_folder(tmp_path, command):
    """trace, diff and dictionary load the config as run does: outside paths are
    refused, and --allow-outside-paths allows them."""
    inside, _ = outside_setup(tmp_path)
    config = write_config(inside, paths="../elsewhere/crm.csv")
    argv = [part.format(config=config) for part in command]
    refused = CliRunner().invoke(app, argv)
    assert "run with --allow-outside-paths to allow it" in error_of(refused, ConfigError, tmp_path)
    allowed = CliRunner().invoke(app, [*argv, "--allow-outside-paths"])
    if command[0] == "diff":
        assert "needs two different systems" in str(allowed.exception)
    else:
        assert allowed.exit_code == 0, allowed.output


def test_export_symlink_leaving_the_folder_is_refused(tmp_path):
    inside, outside = outside_setup(tmp_path)
    (inside / "exports").mkdir()
    (inside / "exports" / "crm.csv").symlink_to(outside / "crm.csv")
    config = write_config(inside, paths="[exports/crm.csv]")
    assert error_of(invoke(config), ConfigError, tmp_path) == (
        "TMP/audit/audit.yaml:4: systems.crm.paths[0]: 'exports/crm.csv' reads "
        "TMP/elsewhere/crm.csv (through a symlink), outside the config's folder TMP/audit; "
        "run with --allow-outside-paths to allow it"
    )
    assert validates(config, "--allow-outside-paths")


def test_glob_matching_a_symlink_that_leaves_the_folder_is_refused(tmp_path):
    inside, outside = outside_setup(tmp_path)
    (inside / "exports").mkdir()
    (inside / "exports" / "a.csv").write_text(HEADER + GOOD_ROW)
    (inside / "exports" / "b.csv").symlink_to(outside / "crm.csv")
    config = write_config(inside, paths="'exports/*.csv'")
    message = error_of(invoke(config), ConfigError, tmp_path)
    assert message.startswith(
        "TMP/audit/audit.yaml:4: systems.crm.paths: 'exports/*.csv' reads "
        "TMP/elsewhere/crm.csv (through a symlink)"
    )


def test_folder_holding_a_symlink_that_leaves_it_is_refused(tmp_path):
    inside, outside = outside_setup(tmp_path)
    (inside / "exports").mkdir()
    (inside / "exports" / "b.csv").symlink_to(outside / "crm.csv")
    config = write_config(inside, paths="exports")
    assert "reads TMP/elsewhere/crm.csv (through a symlink)" in error_of(
        invoke(config), ConfigError, tmp_path
    )


def test_absolute_export_path_outside_is_refused(tmp_path):
    inside, outside = outside_setup(tmp_path)
    config = write_config(inside, paths=str(outside / "*.csv"))
    assert error_of(invoke(config), ConfigError, tmp_path) == (
        "TMP/audit/audit.yaml:4: systems.crm.paths: 'TMP/elsewhere/*.csv' reads "
        "TMP/elsewhere (an absolute path), outside the config's folder TMP/audit; "
        "run with --allow-outside-paths to allow it"
    )
    # Allowed, an absolute glob is read (it used to crash pathlib's glob).
    assert validates(config, "--allow-outside-paths")


def test_paths_inside_the_folder_through_dotdot_and_symlinks_are_fine(tmp_path):
    inside, _ = outside_setup(tmp_path)
    (inside / "data").mkdir()
    (inside / "data" / "crm.csv").write_text(HEADER + GOOD_ROW)
    (inside / "latest.csv").symlink_to(inside / "data" / "crm.csv")
    config = write_config(inside, paths="[../audit/data/crm.csv, latest.csv]")
    assert validates(config)


def test_mapping_file_outside_the_folder_is_refused(tmp_path):
    inside, outside = outside_setup(tmp_path)
    (outside / "crm.yaml").write_text(MAPPING.replace("      ", ""))
    config = inside / "audit.yaml"
    config.write_text("systems:\n  crm:\n    paths: crm.csv\n    mapping: ../elsewhere/crm.yaml\n")
    (inside / "crm.csv").write_text(HEADER + GOOD_ROW)
    assert error_of(invoke(config), ConfigError, tmp_path) == (
        "TMP/audit/audit.yaml:4: systems.crm.mapping: '../elsewhere/crm.yaml' reads "
        "TMP/elsewhere/crm.yaml (through '..'), outside the config's folder TMP/audit; "
        "run with --allow-outside-paths to allow it"
    )
    assert validates(config, "--allow-outside-paths")


def test_mapping_extending_a_file_outside_the_folder_is_refused(tmp_path):
    inside, outside = outside_setup(tmp_path)
    (outside / "base.yaml").write_text(MAPPING.replace("      ", ""))
    (inside / "crm.yaml").write_text("extends: ../elsewhere/base.yaml\n")
    (inside / "crm.csv").write_text(HEADER + GOOD_ROW)
    config = inside / "audit.yaml"
    config.write_text("systems:\n  crm:\n    paths: crm.csv\n    mapping: crm.yaml\n")
    assert error_of(invoke(config), ConfigError, tmp_path) == (
        "TMP/audit/crm.yaml:1: extends: '../elsewhere/base.yaml' reads "
        "TMP/elsewhere/base.yaml (through '..'), outside the config's folder TMP/audit; "
        "run with --allow-outside-paths to allow it"
    )
    assert validates(config, "--allow-outside-paths")


def test_presets_are_always_allowed(tmp_path):
    folder = tmp_path / "audit"
    folder.mkdir()
    vendors = Path(__file__).parent.parent / "sample_exports" / "vendors"
    shutil.copy(vendors / "twilio-inbound-optouts" / "inbound_messages.csv", folder)
    config = folder / "audit.yaml"
    config.write_text(
        "systems:\n  twilio:\n    paths: inbound_messages.csv\n"
        "    mapping: preset:twilio-inbound-optouts\n"
    )
    assert validates(config)


def test_validate_refuses_outside_paths_unless_allowed(tmp_path):
    inside, _ = outside_setup(tmp_path)
    config = write_config(inside, paths="../elsewhere/crm.csv")
    refused = CliRunner().invoke(app, ["validate", str(config)])
    assert refused.exit_code == 2
    assert "outside the config's folder" in refused.output
    allowed = CliRunner().invoke(app, ["validate", str(config), "--allow-outside-paths"])
    assert allowed.exit_code == 0, allowed.output


def test_export_path_that_does_not_exist_is_an_error(tmp_path):
    config = write_config(tmp_path / "audit", paths="nope.csv")
    assert error_of(invoke(config), InputError, tmp_path) == (
        "TMP/audit/nope.csv: export file not found (systems.crm.paths)"
    )


def test_glob_matching_nothing_is_an_error(tmp_path):
    config = write_config(tmp_path / "audit", paths="'exports/*.csv'")
    assert error_of(invoke(config), InputError, tmp_path) == (
        "systems.crm.paths: no file matches 'exports/*.csv'"
    )


def test_symlink_loop_is_an_error(tmp_path):
    folder = tmp_path / "audit"
    folder.mkdir()
    (folder / "a.csv").symlink_to(folder / "b.csv")
    (folder / "b.csv").symlink_to(folder / "a.csv")
    config = write_config(folder, paths="a.csv")
    message = error_of(invoke(config), AuditError, tmp_path)
    assert message == "TMP/audit/a.csv: export file not found (systems.crm.paths)"


def test_empty_export_path_is_an_error(tmp_path):
    config = write_config(tmp_path / "audit", paths="['']")
    assert error_of(invoke(config), ConfigError, tmp_path) == (
        "TMP/audit/audit.yaml:4: systems.crm.paths[0]: an empty path"
    )


# --- The real entry point: exit 2 and one stderr line ------------------------------------


def _entry_point_cases(tmp_path: Path) -> dict[str, Path]:
    cases = {}
    data = gzip.compress((HEADER + GOOD_ROW * 100).encode())
    cases["truncated-gzip"] = export(tmp_path / "gz", "crm.csv.gz", data[:60])
    (tmp_path / "tag").mkdir()
    shutil.copy(CORPUS / "python_tag.yaml", tmp_path / "tag" / "audit.yaml")
    cases["python-tag"] = tmp_path / "tag" / "audit.yaml"
    inside, _ = outside_setup(tmp_path / "escape")
    cases["outside-path"] = write_config(inside, paths="../elsewhere/crm.csv")
    return cases


def test_entry_point_exits_2_with_one_line_and_no_traceback(tmp_path):
    cases = _entry_point_cases(tmp_path)
    # One interpreter per case, started together: they only wait on imports.
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "prefsync_audit", "run", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1"},
        )
        for name, config in cases.items()
    }
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 2, (name, stderr)
        assert stdout == "", name
        assert stderr.count("\n") == 1 and stderr.startswith("error: "), (name, stderr)
        assert "Traceback" not in stderr, name
    assert not (tmp_path / "PWNED").exists()


def test_entry_point_error_stays_one_line_for_a_file_name_with_a_newline(
    tmp_path, monkeypatch, capsys
):
    from prefsync_audit.cli._app import main

    folder = tmp_path / "audit"
    folder.mkdir()
    (folder / "evil\nname.csv").write_bytes(b"")
    config = write_config(folder, paths="'*.csv'")
    monkeypatch.setattr(sys, "argv", ["prefsync-audit", "run", str(config)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: ") and "empty file" in stderr
    assert stderr.count("\n") == 1, stderr


def test_json_values_with_a_lone_surrogate_escape_are_quarantined(tmp_path):
    # "\udc80" alone is valid JSON but no Unicode text (it has no UTF-8 form).
    rows = [
        {"Email": "a@example.com", "Updated": "2026-01-01T00:00:00Z", "OptIn": "yes"},
        {"Email": "b\\udc80@example.com", "Updated": "2026-01-01T00:00:00Z", "OptIn": "no"},
        {"Email": "b\\udc80@example.com", "Phone": "+12025550100", "OptIn": "no"},
    ]
    content = "[" + ",".join(json.dumps(r).replace("\\\\", "\\") for r in rows) + "]"
    summary = summary_of(invoke(export(tmp_path, "crm.json", content)))
    assert accounting(summary) == counts(read=3, mapped=1, quarantined=2)
    assert reasons(summary) == {"a value holds an unpaired surrogate escape (not Unicode text)": 2}
