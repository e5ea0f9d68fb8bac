"""Mapping consent-string columns (TCF, GPP, US Privacy, GPC, Consent Mode).

A cookie banner does not export "analytics: denied"; it exports a consent
string. A ``signal`` rule decodes each distinct string once and turns it into
one observation per purpose it speaks about. A string that cannot be decoded
quarantines its row with the decoder's reason (never a guess).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prefsync_audit.errors import SignalDecodeError
from prefsync_audit.mapping import PreferenceRule, SignalSpec
from prefsync_audit.signals import DEFAULT_MAPPING, SignalMapping, decode, to_preferences

if TYPE_CHECKING:
    from prefsync_audit.mapper import _Columns

#: A decoded cell: the (purpose, state) pairs it yields, or the decode error.
Decoded = tuple[tuple[tuple[str, str], ...], str | None]


def signal_taxonomy(spec: SignalSpec) -> SignalMapping:
    """The default signal → purpose taxonomy with the mapping's overrides."""
    overrides: dict[str, Any] = {}
    for name, value in spec.taxonomy.items():
        if isinstance(value, dict):
            value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        elif isinstance(value, list):
            value = tuple(value)
        overrides[name] = value
    return replace(DEFAULT_MAPPING, **overrides) if overrides else DEFAULT_MAPPING


def decode_cell(text: str, spec: SignalSpec, taxonomy: SignalMapping) -> Decoded:
    """Decode one string to preference pairs, or return why it cannot be decoded."""
    try:
        pairs = to_preferences(decode(spec.kind, text.strip()), taxonomy)
    except SignalDecodeError as exc:
        return (), f"undecodable {spec.kind} string in {spec.column}: {exc}"
    if spec.purposes is not None:
        pairs = [pair for pair in pairs if pair[0] in spec.purposes]
    return tuple(pairs), None


def apply_signal_rule(
    rule: PreferenceRule, spec: SignalSpec, columns: _Columns, reasons: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observations of one signal rule; undecodable rows get a quarantine reason."""
    raw = columns.get(spec.column)
    raw = raw.where(raw.astype("string").str.strip().fillna("") != "")
    taxonomy = signal_taxonomy(spec)
    uniques = pd.unique(raw.dropna().astype(str))
    decoded = {text: decode_cell(text, spec, taxonomy) for text in uniques}

    errors = raw.map({text: error for text, (_, error) in decoded.items()}, na_action="ignore")
    failing = errors.notna() & reasons.isna()
    reasons[failing] = errors[failing]

    pairs = raw.map({text: list(p) for text, (p, _) in decoded.items()}, na_action="ignore")
    exploded = pairs.dropna().explode().dropna()
    rows = exploded.index.to_numpy(dtype=np.int64)
    purposes = [pair[0] for pair in exploded]
    states = [pair[1] for pair in exploded]
    observations = pd.DataFrame(
        {
            "row": rows,
            "purpose": pd.Series(purposes, dtype="object"),
            "channel": rule.channel,
            "scope": rule.scope,
            "state": pd.Series(states, dtype="object"),
            "raw_value": raw.to_numpy()[rows] if len(rows) else [],
            "source_column": spec.column,
        }
    )
    unmapped = pd.DataFrame(columns=["row", "source_column", "raw_value"])
    return observations, unmapped
