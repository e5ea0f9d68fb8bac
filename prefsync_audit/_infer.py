"""Drafting a mapping for an export no preset reads (``mappings infer``).

The draft is a guess from column names and a sample of values, written as
commented YAML for a person to finish: identifier columns (by name, and by
values that normalize as emails, phones or SHA-256 hashes), state columns
(booleans in any spelling, or a few status words) and timestamp columns (ISO
8601, common patterns, epoch seconds or milliseconds). Every guess carries a
comment saying why, and every choice the tool cannot make (the purpose, the
channel, what an unknown status means) is marked ``TODO``. The draft always
parses and validates as a mapping; ``prefsync-audit validate`` then checks it
against the export.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prefsync_audit._archive import split_member
from prefsync_audit.errors import InputError
from prefsync_audit.load import ROW, format_from_name, load_file, read_bytes
from prefsync_audit.mapping import FileFormat, Mapping, TimestampSpec
from prefsync_audit.normalize import (
    BOOLEAN_VOCABULARY,
    make_phone_normalizer,
    normalize_email,
    parse_timestamps,
    vocabulary_key,
)

#: Rows looked at per column.
SAMPLE_ROWS = 500
#: Share of a column's values that must fit a guess.
MIN_SHARE = 0.8

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_PHONEISH = re.compile(r"^\+?[\d\s().-]{7,}$")
_PATTERNS = (
    "%Y-%m-%d %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)
_RECORD_KEYS = ("data", "content", "results", "records", "items", "members", "users", "contacts")

_HINTS = {
    "email": r"e_?mail|mail_address",
    "phone": r"phone|mobile|msisdn|cell|^tel|sms_number",
    "customer_id": r"(^|_)(customer|user|contact|member|external|extern|client|account|"
    r"subscriber|person|profile)_?id$",
    "device_id": r"(^|_)(device|madid|idfa|gaid|anonymous)(_?id)?$",
    "record_id": r"^(id|record_id|object_id|hs_object_id|uuid|_id)$",
    "time": r"time|date|_at$|^at$|created|updated|modified|changed|timestamp|^ts$|when",
    "latest": r"updated|modified|changed|last|unsub|withdraw|opt_?out|revok",
    "state": r"status|consent|subscri|opt|preference|permission|eligib|allow|accept|agree",
    "invert": r"opt_?out|opted_?out|unsub|do_?not|dont|no_?(email|sms|call|mail)|suppress|"
    r"block|exclu|revok|withdr",
    "deliverability": r"bounce|spam|complain|invalid|clean|undeliver",
}
_CHANNELS = (
    (r"e_?mail|newsletter", "email"),
    (r"sms|text", "sms"),
    (r"push", "push"),
    (r"phone|call", "phone"),
    (r"fax", "fax"),
    (r"post|mail", "mail"),
)
_PURPOSES = (
    (r"analytic|tracking|measure|performance", "analytics"),
    (r"advert|ads|targeting|audience", "advertising"),
    (r"sale|sell|shar", "sale_sharing"),
    (r"profil|personali", "personalization"),
)
_DENY_WORDS = r"unsub|opt.?out|denied|deny|withdraw|revok|reject|declin|refus|block|suppress|stop|"
_DENY_WORDS += r"^no$|^false$|^off$|never|not_?subscribed|inactive|disabled"
_GRANT_WORDS = r"subscri|opt.?in|granted|grant|active|accept|allow|agree|confirm|consent|^yes$|"
_GRANT_WORDS += r"^true$|^on$|enabled"


def _snake(name: str) -> str:
    """``emailAddress`` / ``Email Address`` → ``email_address`` (for name hints)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.split(".")[-1])
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _hint(kind: str, name: str) -> bool:
    return re.search(_HINTS[kind], _snake(name)) is not None


@dataclass(frozen=True)
class Sample:
    """The first rows of an export, read as text, and how it was read."""

    frame: pd.DataFrame
    format: FileFormat
    delimiter: str = ","
    records_path: str | None = None


def _records_path(document: object, prefix: str = "", depth: int = 0) -> str | None:
    """Dot path to the first array of objects in a JSON document."""
    if isinstance(document, list):
        return prefix or None
    if not isinstance(document, dict) or depth > 3:
        return None
    keys = sorted(document, key=lambda k: (k not in _RECORD_KEYS, list(document).index(k)))
    for key in keys:
        value = document[key]
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return path
        if isinstance(value, dict):
            found = _records_path(value, path, depth + 1)
            if found:
                return found
    return None


def sample_table(path: Path) -> Sample:
    """Read the start of an export whatever it is: CSV/TSV (delimiter sniffed),
    JSON (records found), JSON lines or Parquet."""
    data = read_bytes(path)
    name = Path(split_member(path)[1]).name if split_member(path) else path.name
    fmt = format_from_name(Path(name))
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if fmt is None:
        fmt = ("jsonl" if b"\n{" in data[:65536] else "json") if head[:1] in b"[{" else "csv"
    options: dict[str, object] = {"format": fmt}
    delimiter, records_path = ",", None
    if fmt in ("csv", "tsv"):
        first = head.split(b"\n", 1)[0].decode("utf-8", errors="ignore")
        counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
        options["csv"] = {"delimiter": delimiter}
    elif fmt == "json":
        try:
            records_path = _records_path(json.loads(data.decode("utf-8-sig")))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not readable as JSON ({exc})") from None
        options["json"] = {"records_path": records_path}
    probe = Mapping.model_validate(
        {
            **options,
            "identifiers": {"email": {"column": "-"}},
            "preferences": [{"purpose": "x", "state": "unknown"}],
        }
    )
    table = load_file(path, probe, "export", path)
    frame = table.frame.drop(columns=ROW).head(SAMPLE_ROWS)
    return Sample(frame, fmt, delimiter, records_path)


def _values(column: pd.Series) -> pd.Series:
    text = column.dropna().astype(str).str.strip()
    return text[text != ""]


def _share(values: pd.Series, test) -> float:  # type: ignore[no-untyped-def]
    uniques = pd.unique(values)
    if not len(uniques):
        return 0.0
    good = {v for v in uniques if test(v)}
    return float(values.isin(good).mean())


def _timestamp_format(name: str, values: pd.Series) -> str | None:
    if values.str.fullmatch(r"\d{10}(\.\d+)?").all() and _hint("time", name):
        return "epoch_s"
    if values.str.fullmatch(r"\d{13}").all() and _hint("time", name):
        return "epoch_ms"
    if not values.str.contains(r"\d[-/.:]\d", regex=True).all():
        return None
    for fmt in ("iso8601", *_PATTERNS):
        spec = TimestampSpec(column=name, format=fmt)
        parsed, bad = parse_timestamps(values.reset_index(drop=True), spec)
        if parsed.notna().mean() >= MIN_SHARE and not bad.all():
            return fmt
    return None


def _state_guess(value: str) -> str:
    key = _snake(value) or vocabulary_key(value)
    if re.search(_DENY_WORDS, key):
        return "denied"
    if re.search(_GRANT_WORDS, key):
        return "granted"
    return "unknown"


def _key_guess(name: str, table: tuple[tuple[str, str], ...], default: str) -> tuple[str, bool]:
    snake = _snake(name)
    for pattern, value in table:
        if re.search(pattern, snake):
            return value, True
    return default, False


@dataclass
class Draft:
    """What the draft proposes (also written out as ``text``)."""

    identifiers: dict[str, str] = field(default_factory=dict)
    """Identifier kind → column."""
    record_id: str | None = None
    timestamps: dict[str, str] = field(default_factory=dict)
    """Timestamp column → format."""
    booleans: list[str] = field(default_factory=list)
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    """Status column → guessed raw value → state."""
    left_out: dict[str, str] = field(default_factory=dict)
    """Column → why it is not used."""
    text: str = ""


def _classify(sample: Sample) -> Draft:
    draft = Draft()
    phone = make_phone_normalizer("US")
    for name in sample.frame.columns:
        values = _values(sample.frame[name])
        if values.empty:
            draft.left_out[name] = "always blank in the sample"
            continue
        if _share(values, lambda v: bool(_HEX64.match(v))) >= MIN_SHARE:
            kind = "phone_sha256" if _hint("phone", name) else "email_sha256"
            draft.identifiers.setdefault(kind, name)
            continue
        if _share(values, lambda v: normalize_email(v) is not None) >= MIN_SHARE:
            draft.identifiers.setdefault("email", name)
            continue
        if _hint("phone", name) and (
            _share(values, lambda v: bool(_PHONEISH.match(v)) and phone(v) is not None) >= MIN_SHARE
        ):
            draft.identifiers.setdefault("phone", name)
            continue
        if _hint("record_id", name) and draft.record_id is None:
            draft.record_id = name
            continue
        if _hint("customer_id", name):
            draft.identifiers.setdefault("customer_id", name)
            continue
        if _hint("device_id", name):
            draft.identifiers.setdefault("device_id", name)
            continue
        if _share(values, lambda v: vocabulary_key(v) in BOOLEAN_VOCABULARY) == 1.0:
            draft.booleans.append(name)
            continue
        fmt = _timestamp_format(name, values)
        if fmt is not None:
            draft.timestamps[name] = fmt
            continue
        distinct = list(dict.fromkeys(values))
        words = [_state_guess(v) for v in distinct]
        if len(distinct) <= 12 and (
            _hint("state", name) or sum(w != "unknown" for w in words) >= 2
        ):
            draft.statuses[name] = dict(zip(distinct, words, strict=True))
            continue
        if values.str.startswith("[").mean() >= MIN_SHARE:
            draft.left_out[name] = "an array: a `list` rule may read it (docs/mappings.md#list)"
    return draft


def _q(value: str) -> str:
    """A YAML scalar for ``value`` (JSON-quoted when plain text would be misread)."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ .#/-]*", value) and value.strip() == value
    reserved = value.lower() in {"yes", "no", "y", "n", "true", "false", "on", "off", "null"}
    return value if plain and not reserved else json.dumps(value, ensure_ascii=False)


def _rule_lines(column: str, state: list[str], comment: str) -> list[str]:
    purpose, sure_purpose = _key_guess(column, _PURPOSES, "marketing")
    channel, sure_channel = _key_guess(column, _CHANNELS, "*")
    lines = [f"  # {comment}"]
    if not (sure_purpose and sure_channel):
        lines.append("  # TODO check the purpose and channel (guessed from the column name).")
    lines += [
        f"  - description: {_q(column)}",
        f"    purpose: {purpose}",
        f"    channel: {_q(channel)}",
        "    state:",
        f"      column: {_q(column)}",
    ]
    return lines + ["      " + line for line in state]


def _write(draft: Draft, sample: Sample, source: str) -> str:
    lines = [
        f"# Drafted by `prefsync-audit mappings infer {source}` from the column names and",
        f"# the first {len(sample.frame)} rows. Every guess says why; finish the TODOs, then",
        "# check it against the export: prefsync-audit validate audit.yaml",
        f"description: {_q(f'Drafted from {source}')}",
        f"format: {sample.format}",
    ]
    if sample.format in ("csv", "tsv") and sample.delimiter not in (",", "\t"):
        lines.append(f"csv: {{delimiter: {json.dumps(sample.delimiter)}}}")
    if sample.records_path:
        lines.append(f"json: {{records_path: {_q(sample.records_path)}}}")
    if draft.record_id:
        lines.append(f"record_id: {_q(draft.record_id)}  # the system's own id (provenance)")
    lines.append("identifiers:")
    if not draft.identifiers:
        lines += [
            "  # TODO no column looks like an email, phone, hash or id: name the one that",
            "  # identifies the person (and its kind: email, phone, customer_id…).",
            '  email: {column: "TODO"}',
        ]
    for kind, column in draft.identifiers.items():
        why = "values are" if kind in ("email", "email_sha256", "phone_sha256") else "named like"
        lines.append(f"  {kind}: {{column: {_q(column)}}}  # {why} {kind.replace('_', ' ')}s")
    if draft.timestamps:
        ordered = sorted(draft.timestamps, key=lambda c: not _hint("latest", c))
        chosen = ordered[0]
        lines += [
            "# When the preferences were set. TODO check: the change time of the preference,",
            "# not of the whole record, is best.",
            "updated_at:",
            f"  column: {_q(chosen)}",
            f"  format: {_q(draft.timestamps[chosen])}",
        ]
        for other in ordered[1:]:
            lines.append(f"  # also a time: {other} ({draft.timestamps[other]})")
    lines.append("preferences:")
    rules = 0
    for column in draft.booleans:
        invert = _hint("invert", column)
        state = ["vocabulary: boolean"] + (["invert: true"] if invert else [])
        why = "true/false values" + (", named like an opt-out: inverted" if invert else "")
        block = _rule_lines(column, state, why)
        if _hint("deliverability", column):
            lines.append("  # A deliverability fact, not a choice (DESIGN §2): left out.")
            lines += ["  # " + line.removeprefix("  ") for line in block[1:]]
            continue
        lines += block
        rules += 1
    for column, guesses in draft.statuses.items():
        state = ["values:"]
        for value, guess in guesses.items():
            todo = "  # TODO what does this value mean?" if guess == "unknown" else ""
            state.append(f"  {_q(value)}: {guess}{todo}")
        lines += _rule_lines(column, state, "a few status values (their states are guesses)")
        rules += 1
    if not rules:
        lines += [
            "  # TODO no column looks like a preference. If being in this export means a",
            "  # state (a suppression list, an ad audience), say which; else name the column.",
            "  - purpose: marketing",
            "    channel: '*'",
            "    state: denied",
        ]
    for column, why in draft.left_out.items():
        lines.append(f"# Not used: {column} ({why})")
    return "\n".join(lines) + "\n"


def draft_mapping(sample: Sample, source: str) -> Draft:
    """Classify the sample's columns and write the commented draft."""
    draft = _classify(sample)
    draft.text = _write(draft, sample, source)
    return draft
