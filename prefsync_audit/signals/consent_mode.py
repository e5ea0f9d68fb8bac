"""Google Consent Mode v2 states.

Consent Mode tracks seven consent types -- ``ad_storage``,
``analytics_storage``, ``ad_user_data``, ``ad_personalization`` (the four v2
advertising/analytics types) plus ``functionality_storage``,
``personalization_storage`` and ``security_storage`` -- each ``granted`` or
``denied``. Exports carry them either as ``type=value`` pairs
(``ad_storage=granted,analytics_storage=denied``) or as a JSON object
(``{"ad_storage": "granted"}``). Unknown types, unknown values, duplicates
that disagree and empty input are errors: a misspelt ``ad_storage`` silently
dropped would read as "no signal" when the person actually chose something.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from prefsync_audit.errors import SignalDecodeError

ConsentState = Literal["granted", "denied"]

CONSENT_TYPES: tuple[str, ...] = (
    "ad_storage",
    "analytics_storage",
    "ad_user_data",
    "ad_personalization",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)
_VALUES = ("granted", "denied")


@dataclass(frozen=True)
class ConsentModeSignal:
    """Decoded Consent Mode states; ``None`` means the type was not in the input."""

    kind: ClassVar[str] = "consent_mode"

    ad_storage: ConsentState | None = None
    """Storage (cookies, device ids) for advertising."""
    analytics_storage: ConsentState | None = None
    """Storage for analytics."""
    ad_user_data: ConsentState | None = None
    """Sending user data to Google for advertising (v2)."""
    ad_personalization: ConsentState | None = None
    """Personalised advertising / remarketing (v2)."""
    functionality_storage: ConsentState | None = None
    """Storage supporting site functionality such as language settings."""
    personalization_storage: ConsentState | None = None
    """Storage for personalisation such as recommendations."""
    security_storage: ConsentState | None = None
    """Storage for security (authentication, fraud prevention)."""

    def states(self) -> dict[str, ConsentState]:
        """The types present in the input, in canonical order."""
        present = ((name, getattr(self, name)) for name in CONSENT_TYPES)
        return {name: value for name, value in present if value is not None}


def decode_consent_mode(text: str) -> ConsentModeSignal:
    """Decode ``type=value`` pairs (comma-separated) or a JSON object."""
    if not isinstance(text, str):
        raise SignalDecodeError(f"Consent Mode value must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise SignalDecodeError("Consent Mode value is empty", position=0)
    pairs = _json_pairs(text) if stripped.startswith("{") else _kv_pairs(text)
    states: dict[str, ConsentState] = {}
    for name, value, position in pairs:
        if name not in CONSENT_TYPES:
            raise SignalDecodeError(f"unknown Consent Mode type {name!r}", position=position)
        if value not in _VALUES:
            raise SignalDecodeError(
                f"Consent Mode {name} must be 'granted' or 'denied', got {value!r}",
                position=position,
            )
        if name in states and states[name] != value:
            raise SignalDecodeError(
                f"Consent Mode {name} is given twice with different values", position=position
            )
        states[name] = value  # checked against _VALUES above
    return ConsentModeSignal(**states)


def _kv_pairs(text: str) -> list[tuple[str, Any, int]]:
    """Split ``a=b, c=d`` into (type, value, char position) triples."""
    pairs: list[tuple[str, Any, int]] = []
    offset = 0
    for item in text.split(","):
        position = offset + len(item) - len(item.lstrip())
        offset += len(item) + 1
        if not item.strip():
            raise SignalDecodeError("empty Consent Mode entry", position=position)
        if "=" not in item:
            raise SignalDecodeError(
                f"Consent Mode entry {item.strip()!r} is not type=value", position=position
            )
        name, _, value = item.partition("=")
        pairs.append((name.strip(), value.strip(), position))
    return pairs


def _json_pairs(text: str) -> list[tuple[str, Any, int]]:
    """Parse a JSON object of type → value, keeping duplicate keys visible."""

    def keep_pairs(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return items

    try:
        parsed = json.loads(text, object_pairs_hook=keep_pairs)
    except json.JSONDecodeError as exc:
        raise SignalDecodeError(
            f"Consent Mode JSON is invalid: {exc.msg}", position=exc.pos
        ) from None
    except ValueError as exc:
        # e.g. an integer literal beyond Python's digit limit
        raise SignalDecodeError(f"Consent Mode JSON is invalid: {exc}", position=0) from None
    except RecursionError:
        raise SignalDecodeError("Consent Mode JSON is nested too deeply", position=0) from None
    if not isinstance(parsed, list) or not parsed:
        raise SignalDecodeError("Consent Mode JSON must be a non-empty object", position=0)
    pairs: list[tuple[str, Any, int]] = []
    for name, value in parsed:
        # The decoder does not report where each key sits; point at its first
        # textual occurrence, which is where an analyst would look.
        position = max(text.find(json.dumps(name)), 0)
        if not isinstance(value, str):
            raise SignalDecodeError(
                f"Consent Mode {name} must be a string, got {type(value).__name__}",
                position=position,
            )
        pairs.append((name, value, position))
    return pairs
