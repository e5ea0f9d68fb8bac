"""Mappings: how to read one kind of export (a declarative model, no logic).

A mapping says how the file is laid out, which columns identify the person,
and which columns (or the row's mere presence) carry which preference in which
state. The models here only describe; ``mapper.py`` executes them.

Layouts are expressed per preference rule:

* **wide** – a rule per column:
  ``state: {column: HasOptedOutOfEmail, vocabulary: boolean, invert: true}``;
* **long** – one rule whose purpose/channel/scope come from columns:
  ``purpose: {column: Purpose, values: {...}}``;
* **membership** – a rule with a fixed state: ``state: denied`` (presence = state);
* **list** – ``list: {column: emailListIds, items: {...}}``, a person holds the
  ids found in an array column;
* **column pattern** – a wide rule whose state column is a regular expression
  (``hs_email_optout_(\\d+)``): one rule per matching column, key parts taken
  from the match (``scope: {group: 1, values: param:subscription_types}``).

Reuse: ``extends: preset:NAME`` builds on another mapping (resolved by the
loader, ``prefsync_audit._mapping_files``), and ``params`` are named values the
rules refer to as ``param:NAME`` (substituted here, before validation).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from prefsync_audit._model import StrictModel
from prefsync_audit.vocab import ANY, State

FileFormat = Literal["csv", "tsv", "json", "jsonl", "parquet"]
Normalizer = Literal["email", "phone", "id", "sha256", "none"]
HashProfile = Literal["plain", "google", "meta"]
#: What a raw value can mean: a state, or ``ignore`` (deliberately no observation).
StateTarget = Literal["granted", "denied", "unknown", "ignore"]

_KEY_PART = re.compile(r"^(\*|[a-z0-9][a-z0-9_.:-]*)$")
#: Vocabularies every mapping can name (defined in ``normalize.py``).
BUILTIN_VOCABULARY_NAMES = ("boolean", "sms_keywords")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CsvOptions(StrictModel):
    """How a delimited text file is written."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    """One character; ``\\t`` for TSV (the ``tsv`` format sets it for you)."""
    quotechar: str = Field('"', min_length=1, max_length=1)
    encoding: str = "utf-8"
    """``utf-8`` (a byte-order mark is skipped), ``latin-1``, ``cp1252``…"""


class JsonOptions(StrictModel):
    """Where the records are in a JSON document."""

    records_path: str | None = None
    """Dot path to the array of records (``data.members``); none = the top level."""


class ColumnValue(StrictModel):
    """A text value taken from a column, or a constant."""

    column: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ColumnValue:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of 'column' or 'value'")
        return self


class IdentifierSpec(StrictModel):
    """One identifier column and how to normalize it."""

    column: str
    """Column name, or a JSON dot path (``traits.email``)."""
    repeated: bool = False
    """The column may repeat: read ``column``, ``column#2``, ``column#3``… (the loader's
    names for a repeated header, as in Customer Match's several ``Email`` columns). Every
    value links the record; the first one is the record's value of the kind."""
    normalizer: Normalizer | None = None
    """Defaults by kind: ``email``, ``phone`` (E.164), ``sha256`` for ``*_sha256``, else ``id``."""
    default_region: str | None = None
    """Region for phone numbers written without a country code (defaults to the config's)."""
    profile: HashProfile = "plain"
    """For hashed kinds: how the platform normalizes before hashing (``google`` applies the
    Gmail dot/plus rule; ``meta`` hashes phones without ``+``)."""


class TimestampSpec(StrictModel):
    """When a preference was set."""

    column: str | list[str]
    """A column, or several tried in order (the first non-empty wins)."""
    format: str = "iso8601"
    """``iso8601``, ``epoch_s``, ``epoch_ms`` or a strftime pattern (``%Y-%m-%d %H:%M:%S``)."""
    timezone: str = "UTC"
    """The zone assumed for values written without an offset."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as "
                "'UTC' or 'America/New_York')"
            ) from None
        return value

    @property
    def columns(self) -> list[str]:
        return [self.column] if isinstance(self.column, str) else list(self.column)


class KeyFromColumn(StrictModel):
    """A purpose, channel or scope read from a column (long layouts), or from the
    header that matched a state ``column_pattern`` (``group``)."""

    column: str | None = None
    """The column holding the value."""
    group: int | str | None = None
    """Instead of ``column``: the capture group (number or name) of the rule's state
    ``column_pattern``, read from the matching header (``hs_email_optout_(\\d+)`` → ``1``)."""
    values: dict[str, str] | None = None
    """Raw value → canonical name (or ``ignore``); matched ignoring case and spaces.
    Without it the raw value is used, lowercased. Often ``param:NAME``."""
    default: str | None = None
    """With ``values``: the name for a raw value the map does not know (``"*"``, say),
    instead of reporting it as an unmapped value and giving no observation."""

    @model_validator(mode="after")
    def _one_source(self) -> KeyFromColumn:
        if (self.column is None) == (self.group is None):
            raise ValueError("give exactly one of 'column' or 'group'")
        return self


KeyPart = str | KeyFromColumn


class StateFromColumn(StrictModel):
    """A state read from a column through a vocabulary."""

    column: str | None = None
    """The state column."""
    column_pattern: str | None = None
    """Instead of ``column``: a regular expression matched against whole header names
    (``hs_email_optout_(\\d+)``). The rule applies to every matching column; key parts
    written ``{group: N}`` take their value from the match. No matching column = no
    observation (not an error)."""
    vocabulary: str | None = None
    """A built-in vocabulary (``boolean``, ``sms_keywords``) or one named under
    ``vocabularies``."""
    values: dict[str, StateTarget] = Field(default_factory=dict)
    """Raw value → state, on top of the vocabulary; matched ignoring case and spaces."""
    invert: bool = False
    """Swap granted and denied: for "opted out" booleans such as ``HasOptedOutOfEmail``."""

    @model_validator(mode="after")
    def _has_vocabulary(self) -> StateFromColumn:
        if self.vocabulary is None and not self.values:
            raise ValueError("give a 'vocabulary', 'values', or both")
        if (self.column is None) == (self.column_pattern is None):
            raise ValueError("give exactly one of 'column' or 'column_pattern'")
        return self

    @field_validator("column_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ListItem(StrictModel):
    """What one id in a list-valued column stands for."""

    purpose: str | None = None
    channel: str | None = None
    scope: str | None = None


class ListSpec(StrictModel):
    """A list-valued column: a JSON array, or text split by ``separator``."""

    column: str
    separator: str = ","
    items: dict[str, ListItem]
    """Id → the key it stands for (parts left out come from the rule)."""
    present: Literal["granted", "denied"] = "granted"
    """The state of a key whose id is in the list."""
    absent: Literal["granted", "denied"] | None = None
    """The state of a listed key whose id is *not* in the list; none = no observation."""


class RowFilter(StrictModel):
    """Rows to leave out on purpose (counted as ``rows_ignored``)."""

    column: str
    values: list[str] | None = None
    """Ignore rows whose value is one of these (ignoring case and spaces)."""
    empty: bool = False
    """Ignore rows where the column is empty."""


SignalKindName = Literal["tcf", "gpp", "usp", "gpc", "consent_mode"]


class SignalSpec(StrictModel):
    """A column holding a consent string (TCF, GPP, US Privacy, GPC, Consent Mode)."""

    column: str
    kind: SignalKindName
    purposes: list[str] | None = None
    """Keep only these purposes of what the string says (default: all it says)."""
    taxonomy: dict[str, object] = Field(default_factory=dict)
    """Overrides of the signal → purpose defaults (fields of ``SignalMapping``:
    ``tcf_purposes``, ``tcf_special_features``, ``us_sale_sharing``,
    ``us_targeted_advertising``, ``usp_opt_out_sale``, ``gpc``, ``consent_mode``)."""

    @field_validator("taxonomy")
    @classmethod
    def _known_fields(cls, value: dict[str, object]) -> dict[str, object]:
        from dataclasses import fields

        from prefsync_audit.signals import SignalMapping

        known = {f.name for f in fields(SignalMapping)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown taxonomy field(s): {', '.join(unknown)}")
        return value


class PreferenceRule(StrictModel):
    """One preference an export carries, in any layout."""

    description: str | None = None
    """What this preference means in the system (shown by ``prefsync-audit dictionary``)."""
    purpose: KeyPart | None = None
    channel: KeyPart = ANY
    scope: KeyPart = ANY
    state: State | StateFromColumn | None = None
    """A state column (wide and long layouts), or a fixed state (membership)."""
    list: ListSpec | None = None
    signal: SignalSpec | None = None
    """A consent-string column: the purposes and states come from the decoded string."""
    updated_at: TimestampSpec | None = None
    """Overrides the mapping's ``updated_at`` for this preference."""
    capture_source: ColumnValue | None = None
    proof: ColumnValue | None = None

    @model_validator(mode="after")
    def _state_or_list(self) -> PreferenceRule:
        given = [name for name in ("state", "list", "signal") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'state', 'list' or 'signal'")
        if self.signal is not None:
            if self.purpose is not None:
                raise ValueError(
                    "a signal rule takes its purposes from the string; "
                    "use signal.purposes to keep some of them"
                )
            if isinstance(self.channel, KeyFromColumn) or isinstance(self.scope, KeyFromColumn):
                raise ValueError("a signal rule takes a fixed channel and scope")
            return self
        self._check_groups()
        if self.list is not None and any(
            isinstance(getattr(self, part), KeyFromColumn)
            for part in ("purpose", "channel", "scope")
        ):
            raise ValueError("a list rule takes its key parts from its items, not from columns")
        if self.list is None and self.purpose is None:
            raise ValueError("'purpose' is required")
        if self.list is not None and self.purpose is None:
            missing = [i for i, item in self.list.items.items() if item.purpose is None]
            if missing:
                raise ValueError(f"list items without a purpose: {', '.join(missing)}")
        return self

    def _check_groups(self) -> None:
        """Key parts from a match group need a state ``column_pattern`` that has the group."""
        pattern = self.state.column_pattern if isinstance(self.state, StateFromColumn) else None
        compiled = re.compile(pattern) if pattern else None
        for part in ("purpose", "channel", "scope"):
            value = getattr(self, part)
            if not isinstance(value, KeyFromColumn) or value.group is None:
                continue
            if compiled is None:
                raise ValueError(f"{part}.group needs a state 'column_pattern'")
            group = value.group
            known = (
                isinstance(group, int) and 0 <= group <= compiled.groups
            ) or group in compiled.groupindex
            if not known:
                raise ValueError(f"{part}.group {group!r} is not a group of the column_pattern")

    @field_validator("purpose", "channel", "scope", mode="before")
    @classmethod
    def _lower_literal(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("param:"):
            value = value.strip().lower()
            if not _KEY_PART.match(value):
                raise ValueError(
                    f"{value!r} is not a valid key part (lowercase letters, digits, _.:- or *)"
                )
        return value


_PARAM_REF = re.compile(r"^param:([A-Za-z_][A-Za-z0-9_-]*)$")


def param_references(data: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Every ``param:NAME`` value in a mapping document (outside ``params``): (path, NAME)."""
    found: list[tuple[tuple, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not path and key == "params":
                continue
            found += param_references(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += param_references(value, (*path, i))
    elif isinstance(data, str):
        match = _PARAM_REF.match(data.strip())
        if match:
            found.append((path, match.group(1)))
    return found


def substitute_params(data: dict[str, Any]) -> dict[str, Any]:
    """Replace each ``param:NAME`` value by the value of ``params.NAME`` (not recursively)."""
    params = data.get("params") or {}
    references = param_references(data)
    if not references:
        return data
    if not isinstance(params, dict):
        raise ValueError("'params' is a mapping of names to values")
    result = copy.deepcopy(data)
    for path, name in references:
        if name not in params:
            declared = ", ".join(sorted(params)) or "none"
            where = ".".join(str(p) for p in path)
            raise ValueError(f"{where}: unknown param {name!r} (declared: {declared})")
        target = result
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = copy.deepcopy(params[name])
    return result


class Mapping(StrictModel):
    """How to read one kind of export into canonical observations."""

    description: str | None = None
    extends: str | None = None
    """``preset:NAME`` or a mapping file (relative to the file that says ``extends``) this
    mapping builds on. The loader merges the two: this mapping's keys override the
    parent's; maps are merged key by key (recursively), lists and everything else are
    replaced whole. Here it only records the parent's name."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Named values (usually value maps) that rules use as ``param:NAME``: a preset declares
    each with its default and a mapping that extends it sets its own, merged key by key
    (``params: {subscription_types: {"123": newsletter}}``). A ``param:NAME`` value
    anywhere outside ``params`` is replaced by the value; an unknown name is an error, and
    so (when loading a file) is a param no rule uses."""
    explode: str | None = None
    """Column (dot path) holding a JSON array of records (OneTrust ``Purposes``): the file is
    read as one row per element, element fields at ``<explode>.<field>`` and the
    record's own fields repeated. A record whose array is empty or missing gives one row
    with the element fields blank. Rules reading no element field apply once per record."""
    format: FileFormat | None = None
    """Inferred from the file extension when left out (``.csv``, ``.tsv``, ``.json``,
    ``.jsonl``/``.ndjson``, ``.parquet``, each optionally ``.gz``)."""
    csv: CsvOptions = CsvOptions()
    json_records: JsonOptions = Field(default_factory=JsonOptions, alias="json")
    file_name_fields: dict[str, str] = Field(default_factory=dict)
    """Column name → regular expression on the file name whose first group becomes
    that column's value (Mailchimp puts the status in the file name)."""
    record_id: str | None = None
    """Column holding the system's own record id."""
    identifiers: dict[str, IdentifierSpec]
    """Identifier kind → column. ``null`` removes a kind a parent mapping declares."""
    updated_at: TimestampSpec | None = None
    capture_source: ColumnValue | None = None
    proof: ColumnValue | None = None
    ignore_rows: list[RowFilter] = Field(default_factory=list)
    vocabularies: dict[str, dict[str, StateTarget]] = Field(default_factory=dict)
    """Named vocabularies for this mapping: raw value → state."""
    preferences: list[PreferenceRule] = Field(min_length=1)

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _params(cls, data: Any) -> Any:
        return substitute_params(data) if isinstance(data, dict) else data

    @field_validator("identifiers", mode="before")
    @classmethod
    def _removed_kinds(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {kind: spec for kind, spec in value.items() if spec is not None}
        return value

    @model_validator(mode="after")
    def _vocabularies_exist(self) -> Mapping:
        known = set(BUILTIN_VOCABULARY_NAMES) | set(self.vocabularies)
        for index, rule in enumerate(self.preferences):
            state = rule.state
            if isinstance(state, StateFromColumn) and state.vocabulary not in (None, *known):
                raise ValueError(
                    f"preferences[{index}].state.vocabulary: unknown vocabulary "
                    f"{state.vocabulary!r} (known: {', '.join(sorted(known))})"
                )
        return self

    @field_validator("identifiers")
    @classmethod
    def _identifier_names(cls, value: dict[str, IdentifierSpec]) -> dict[str, IdentifierSpec]:
        if not value:
            raise ValueError("at least one identifier is required")
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a valid identifier kind name")
        return value

    def reads_column(self, name: str) -> bool:
        """Whether an audit reads the file column ``name`` through this mapping
        (the loader converts only those to text)."""
        if any(name in columns for _, columns in self._column_reads()):
            return True
        base, _, number = name.rpartition("#")
        if number.isdigit() and any(
            spec.repeated and spec.column == base for spec in self.identifiers.values()
        ):
            return True
        return any(
            isinstance(rule.state, StateFromColumn)
            and rule.state.column_pattern is not None
            and re.fullmatch(rule.state.column_pattern, name) is not None
            for rule in self.preferences
        )

    def columns_used(self) -> list[tuple[str, str]]:
        """Every (where, column) this mapping reads, for header checks; where
        several columns are tried in order, any one of them is enough."""
        file_fields = set(self.file_name_fields)
        return [
            (where, " or ".join(columns))
            for where, columns in self._column_reads()
            if not (len(columns) == 1 and columns[0] in file_fields)
        ]

    def _column_reads(self) -> list[tuple[str, list[str]]]:
        used: list[tuple[str, list[str]]] = []
        if self.record_id:
            used.append(("record_id", [self.record_id]))
        used += [(f"identifiers.{kind}", [spec.column]) for kind, spec in self.identifiers.items()]
        if self.updated_at:
            used.append(("updated_at", list(self.updated_at.columns)))
        for where, spec in (("capture_source", self.capture_source), ("proof", self.proof)):
            if spec and spec.column:
                used.append((where, [spec.column]))
        used += [(f"ignore_rows[{i}]", [f.column]) for i, f in enumerate(self.ignore_rows)]
        for i, rule in enumerate(self.preferences):
            where = f"preferences[{i}]"
            for part in ("purpose", "channel", "scope"):
                value = getattr(rule, part)
                if isinstance(value, KeyFromColumn) and value.column is not None:
                    used.append((f"{where}.{part}", [value.column]))
            if isinstance(rule.state, StateFromColumn) and rule.state.column is not None:
                used.append((f"{where}.state", [rule.state.column]))
            if rule.list:
                used.append((f"{where}.list", [rule.list.column]))
            if rule.signal:
                used.append((f"{where}.signal", [rule.signal.column]))
            if rule.updated_at:
                used.append((f"{where}.updated_at", list(rule.updated_at.columns)))
            for name in ("capture_source", "proof"):
                spec = getattr(rule, name)
                if spec and spec.column:
                    used.append((f"{where}.{name}", [spec.column]))
        return used
