"""The preference dictionary: every preference key an audit knows, what it means,
and where each system keeps it — generated from the config and its mappings, so
it is never out of step with them.

:func:`build_dictionary` makes the data (:class:`PreferenceDictionary`); the
renderers turn it into Markdown or HTML through Jinja2 templates
(``templates/dictionary.*.j2``) and do nothing else.

For each key the dictionary gives its definition (from the taxonomy below and
the rules' ``description``), the authority (``policy.authorities``) and the
systems that must hold it (``must_hold``); for each system holding it, the
column (or file name, list, consent string, or mere presence), every value and
the state it means, the timestamp used and the evidence read.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from prefsync_audit._model import key_covers
from prefsync_audit._yaml import load_yaml
from prefsync_audit.config import AuditConfig
from prefsync_audit.mapper_signals import signal_taxonomy
from prefsync_audit.mapping import (
    ColumnValue,
    KeyFromColumn,
    Mapping,
    PreferenceRule,
    StateFromColumn,
    TimestampSpec,
)
from prefsync_audit.normalize import BUILTIN_VOCABULARIES
from prefsync_audit.policy import authority_of_keys
from prefsync_audit.report._jinja import code, escape_markdown
from prefsync_audit.vocab import ANY

#: What each purpose of the taxonomy means.
PURPOSES = {
    "marketing": "Marketing messages: newsletters, offers and promotions.",
    "advertising": "Targeted advertising: ad audiences, advertising cookies and "
    "cross-context behavioural ads.",
    "analytics": "Measuring the use of sites, apps and messages (analytics cookies, tracking).",
    "personalization": "Content and recommendations personalized from the person's data.",
    "sale_sharing": "Selling or sharing personal information with third parties "
    '(the CCPA/CPRA "do not sell or share" choice).',
    "storage": "Storing or reading information on the person's device (TCF purpose 1).",
    "precise_geolocation": "Using precise geolocation (TCF special feature 1).",
    "functional": "Functional features that remember the person's choices (functional cookies).",
}
#: How each channel reads in a definition.
CHANNELS = {
    "email": "by email",
    "sms": "by SMS or text message",
    "push": "by push notification",
    "phone": "by phone call",
    "mail": "by post",
    "fax": "by fax",
    "web": "on websites and apps (cookies and trackers)",
    ANY: "on every channel",
}
STATE_ORDER = ("granted", "denied", "unknown", "ignore")
_NO_OBSERVATION = "ignore"


@dataclass(frozen=True)
class ValueMeaning:
    """The raw values that mean one state (``ignore``: no observation)."""

    state: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class SystemUse:
    """Where one system keeps one preference key."""

    system: str
    source: str
    """The column, columns, file name, list, consent string, or presence."""
    meanings: tuple[ValueMeaning, ...]
    timestamp: str
    evidence: str
    is_authority: bool
    note: str | None = None
    """The mapping rule's ``description``."""


@dataclass(frozen=True)
class KeyEntry:
    """One preference key and every system holding it."""

    key: str
    definition: str
    authority: str | None
    must_hold: tuple[str, ...]
    uses: tuple[SystemUse, ...]


@dataclass(frozen=True)
class SystemSummary:
    system: str
    description: str
    mapping: str
    """``preset:NAME``, a mapping file, or ``inline`` (with what it extends)."""
    paths: tuple[str, ...]
    identifiers: tuple[str, ...]


@dataclass(frozen=True)
class PreferenceDictionary:
    title: str
    config: str
    systems: tuple[SystemSummary, ...]
    keys: tuple[KeyEntry, ...]
    purposes: tuple[tuple[str, str], ...]
    """The taxonomy's purposes used here, with their definitions."""


# --- building ----------------------------------------------------------------------


def _definition(purpose: str, channel: str, scope: str) -> str:
    what = PURPOSES.get(purpose, f"The purpose “{purpose}”, as named by the mappings.")
    how = CHANNELS.get(channel, f"on the channel “{channel}”")
    if scope == ANY:
        where = "for every brand, list and subscription type"
    elif scope.startswith("{"):
        where = f"for the scope the export names in {scope.strip('{}')}"
    else:
        where = f"for the scope “{scope}” (a brand, list or subscription type)"
    return f"{what.rstrip('.')} — {how}, {where}."


def _timestamp(spec: TimestampSpec | None) -> str:
    if spec is None:
        return "none: untimed (older than every timed observation)"
    columns = " or ".join(spec.columns)
    first = "the first present of " if len(spec.columns) > 1 else ""
    return f"{first}{columns} ({spec.format}, {spec.timezone} when no offset)"


def _evidence(rule: PreferenceRule, mapping: Mapping) -> str:
    def text(spec: ColumnValue | None) -> str | None:
        if spec is None:
            return None
        return f"column {spec.column}" if spec.column is not None else f"“{spec.value}”"

    parts = []
    source = text(rule.capture_source or mapping.capture_source)
    proof = text(rule.proof or mapping.proof)
    if source:
        parts.append(f"capture source: {source}")
    if proof:
        parts.append(f"proof: {proof}")
    return "; ".join(parts) or "none"


def _state_meanings(spec: StateFromColumn, mapping: Mapping) -> tuple[ValueMeaning, ...]:
    vocabularies = {**BUILTIN_VOCABULARIES, **mapping.vocabularies}
    lookup = dict(vocabularies.get(spec.vocabulary, {})) if spec.vocabulary else {}
    lookup.update(spec.values)
    if spec.invert:
        swap = {"granted": "denied", "denied": "granted"}
        lookup = {k: swap.get(v, v) for k, v in lookup.items()}
    return tuple(
        ValueMeaning(state, tuple(k for k, v in lookup.items() if v == state))
        for state in STATE_ORDER
        if state in lookup.values()
    )


Variant = tuple[tuple[str, str, str], str]


def _part_variants(rule: PreferenceRule) -> list[Variant]:
    """Every (key, selector) a rule can give: key parts read from the same column
    are enumerated together, over the raw values their maps know."""
    parts = {name: getattr(rule, name) for name in ("purpose", "channel", "scope")}
    pattern = rule.state.column_pattern if isinstance(rule.state, StateFromColumn) else None
    groups: dict[str, list[str]] = {}
    for name, spec in parts.items():
        if isinstance(spec, KeyFromColumn):
            source = spec.column if spec.column is not None else f"group {spec.group}"
            groups.setdefault(source, []).append(name)
    options: list[list[tuple[dict[str, str], str]]] = []
    for source, names in groups.items():
        specs = [parts[n] for n in names]
        where = source.removeprefix("group ") if pattern and source.startswith("group ") else source
        raws = list(dict.fromkeys(k for s in specs for k in (s.values or {})))
        if not raws:
            placeholder = f"{{{where}}}"
            options.append([({n: placeholder for n in names}, "")])
            continue
        choices = []
        for raw in raws:
            chosen = {}
            for name, spec in zip(names, specs, strict=True):
                value = (
                    f"{{{where}}}" if spec.values is None else spec.values.get(raw, spec.default)
                )
                chosen[name] = value
            if all(v not in (None, _NO_OBSERVATION) for v in chosen.values()):
                choices.append((chosen, f"{where} = {raw}"))
        options.append(choices)
    variants: list[Variant] = []
    for combination in itertools.product(*options) if options else [()]:
        key = {n: s for n, s in parts.items() if not isinstance(s, KeyFromColumn)}
        selectors = []
        for chosen, selector in combination:
            key.update(chosen)
            if selector:
                selectors.append(selector)
        purpose = str(key.get("purpose") or "")
        variants.append(((purpose, str(key["channel"]), str(key["scope"])), "; ".join(selectors)))
    return variants


def _rule_uses(rule: PreferenceRule, mapping: Mapping) -> list[tuple[tuple, str, tuple]]:
    """(key, source text, meanings) for each key a rule can give."""
    if rule.list is not None:
        spec = rule.list
        listed = [ValueMeaning(spec.present, ("listed",))]
        if spec.absent:
            listed.append(ValueMeaning(spec.absent, ("not listed",)))
        uses = []
        for item_id, item in spec.items.items():
            key = (
                item.purpose or rule.purpose,
                item.channel or rule.channel,
                item.scope or rule.scope,
            )
            uses.append((key, f"id {item_id} in the list {spec.column}", tuple(listed)))
        return uses
    if rule.signal is not None:
        spec = rule.signal
        taxonomy = signal_taxonomy(spec)
        known = {
            "tcf": [*taxonomy.tcf_purposes, *taxonomy.tcf_special_features],
            "gpp": [taxonomy.us_sale_sharing, taxonomy.us_targeted_advertising, *taxonomy.gpc],
            "usp": [taxonomy.usp_opt_out_sale],
            "gpc": list(taxonomy.gpc),
            "consent_mode": list(taxonomy.consent_mode),
        }[spec.kind]
        purposes = spec.purposes or list(dict.fromkeys(known))
        meaning = (ValueMeaning("granted, denied or unknown", (f"decoded {spec.kind} string",)),)
        source = f"{spec.kind} string in {spec.column}"
        return [((p, str(rule.channel), str(rule.scope)), source, meaning) for p in purposes]
    if isinstance(rule.state, StateFromColumn):
        meanings = _state_meanings(rule.state, mapping)
        column = rule.state.column
        if column is None:
            column_text = f"every column matching {rule.state.column_pattern}"
        elif column in mapping.file_name_fields:
            column_text = f"the file name ({mapping.file_name_fields[column]})"
        else:
            column_text = column
    else:
        meanings = (ValueMeaning(str(rule.state), ("present in the export",)),)
        column_text = "presence in the export"
    uses = []
    for key, selector in _part_variants(rule):
        uses.append((key, column_text + (f", where {selector}" if selector else ""), meanings))
    return uses


def _mapping_names(config: AuditConfig) -> dict[str, str]:
    """How each system's mapping was given in the config file."""
    raw: dict = {}
    if config.source is not None and Path(config.source).is_file():
        data = load_yaml(Path(config.source)).data
        raw = data.get("systems", {}) if isinstance(data, dict) else {}
    names = {}
    for system in config.systems:
        given = raw.get(system, {}).get("mapping") if isinstance(raw.get(system), dict) else None
        if isinstance(given, str):
            names[system] = given
        else:
            extends = config.mapping_of(system).extends
            names[system] = f"inline, extends {extends}" if extends else "inline"
    return names


def build_dictionary(config: AuditConfig) -> PreferenceDictionary:
    """The dictionary of ``config``: its keys, systems and mappings."""
    found: dict[tuple[str, str, str], list[SystemUse]] = {}
    for system in config.systems:
        mapping = config.mapping_of(system)
        for rule in mapping.preferences:
            timestamp = _timestamp(rule.updated_at or mapping.updated_at)
            evidence = _evidence(rule, mapping)
            for key, source, meanings in _rule_uses(rule, mapping):
                found.setdefault(key, []).append(
                    SystemUse(
                        system, source, meanings, timestamp, evidence, False, rule.description
                    )
                )
    for rule in config.policy.authorities:
        found.setdefault(rule.key, [])
    for settings in config.systems.values():
        for key in settings.must_hold:
            found.setdefault(key, [])
    ordered = sorted(found)
    frame = pd.DataFrame(ordered, columns=["purpose", "channel", "scope"], dtype="object")
    authorities = authority_of_keys(frame, config).tolist() if ordered else []
    entries = []
    for key, authority in zip(ordered, authorities, strict=True):
        uses = tuple(replace(use, is_authority=use.system == authority) for use in found[key])
        must_hold = tuple(
            name
            for name, settings in config.systems.items()
            if any(key_covers(held, key) or key_covers(key, held) for held in settings.must_hold)
        )
        entries.append(
            KeyEntry(
                key="/".join(key),
                definition=_definition(*key),
                authority=authority if isinstance(authority, str) else None,
                must_hold=must_hold,
                uses=uses,
            )
        )
    names = _mapping_names(config)
    systems = tuple(
        SystemSummary(
            system=name,
            description=settings.description or config.mapping_of(name).description or "",
            mapping=names[name],
            paths=tuple(settings.paths),
            identifiers=tuple(
                f"{kind} ({spec.column})"
                for kind, spec in config.mapping_of(name).identifiers.items()
            ),
        )
        for name, settings in config.systems.items()
    )
    purposes = tuple(
        (purpose, PURPOSES.get(purpose, "Named by the mappings; not in the built-in taxonomy."))
        for purpose in sorted({key[0] for key in ordered})
    )
    return PreferenceDictionary(
        title=config.name or "Preference dictionary",
        config=str(config.source or ""),
        systems=systems,
        keys=tuple(entries),
        purposes=purposes,
    )


# --- rendering ---------------------------------------------------------------------


@cache
def _environment(markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("prefsync_audit", "templates"),
        autoescape=not markdown,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=escape_markdown if markdown else None,
    )
    env.filters["code"] = code if markdown else str
    return env


def render_markdown(dictionary: PreferenceDictionary) -> str:
    return _environment(True).get_template("dictionary.md.j2").render(d=dictionary)


def render_html(dictionary: PreferenceDictionary) -> str:
    return _environment(False).get_template("dictionary.html.j2").render(d=dictionary)


#: Output file name → renderer.
RENDERERS: dict[str, Callable[[PreferenceDictionary], str]] = {
    "preference-dictionary.md": render_markdown,
    "preference-dictionary.html": render_html,
}


def write_dictionary(dictionary: PreferenceDictionary, folder: Path) -> list[Path]:
    """Write every rendering into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, render in RENDERERS.items():
        path = folder / name
        path.write_text(render(dictionary), encoding="utf-8")
        written.append(path)
    return written
