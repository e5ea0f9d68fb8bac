"""JSON-ready views of decoded signals (for the ``decode`` CLI command).

Dataclasses become dicts (with the signal's ``kind`` first), datetimes become
ISO 8601 UTC strings ending in ``Z``, sets become sorted lists and tuples
become lists, so ``json.dumps(to_dict(x))`` always works and is stable.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from prefsync_audit.signals.tcf import PublisherRestriction


def to_dict(decoded: object) -> dict[str, Any]:
    """Return a JSON-serialisable dict for a decoded signal dataclass."""
    if not dataclasses.is_dataclass(decoded) or isinstance(decoded, type):
        raise TypeError(f"not a decoded signal: {type(decoded).__name__}")
    converted = _convert(decoded)
    assert isinstance(converted, dict)  # a dataclass instance converts to a dict
    return converted


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _convert(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        kind = getattr(type(value), "kind", None)
        if isinstance(kind, str):
            out["kind"] = kind
        for item in dataclasses.fields(value):
            out[item.name] = _convert(getattr(value, item.name))
        if isinstance(value, PublisherRestriction):
            out["restriction_name"] = value.restriction_name
        return out
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (list, tuple)):
        return [_convert(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _convert(item) for key, item in value.items()}
    return value
