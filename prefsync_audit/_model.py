"""Shared pieces of the declarative config and mapping models."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from prefsync_audit.vocab import ANY


class StrictModel(BaseModel):
    """A frozen model that rejects unknown keys: a typo must never disable a check."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """``"72h"``, ``"3d"``, ``"45m"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '72h', '3d', '45m'")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (use e.g. '72h', '3d', '45m' or seconds)")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[(unit or "s").lower()])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

_KEY_PART = re.compile(r"^(\*|[a-z0-9][a-z0-9_.:-]*)$")


def parse_key(value: Any) -> tuple[str, str, str]:
    """A preference key: ``"marketing/email/newsletter"`` or a mapping of its parts.

    Missing trailing parts are ``*``: ``"marketing/email"`` is every scope of
    email marketing.
    """
    if isinstance(value, dict):
        extra = set(value) - {"purpose", "channel", "scope"}
        if extra:
            raise ValueError(f"unknown key part(s): {', '.join(sorted(extra))}")
        parts = [str(value.get(name, ANY)) for name in ("purpose", "channel", "scope")]
    elif isinstance(value, tuple | list) and len(value) == 3:
        parts = [str(part) for part in value]
    elif isinstance(value, str):
        parts = value.split("/")
        if len(parts) > 3:
            raise ValueError(f"{value!r}: a key is purpose/channel/scope")
        parts += [ANY] * (3 - len(parts))
    else:
        raise ValueError("a preference key is text like 'marketing/email/*'")
    parts = [part.strip().lower() for part in parts]
    for part in parts:
        if not _KEY_PART.match(part):
            raise ValueError(f"{part!r} is not a valid key part (lowercase letters, digits, _.:-)")
    return (parts[0], parts[1], parts[2])


PreferenceKey = Annotated[tuple[str, str, str], BeforeValidator(parse_key)]


def key_text(key: tuple[str, str, str]) -> str:
    return "/".join(key)


def key_covers(broad: tuple[str, str, str], narrow: tuple[str, str, str]) -> bool:
    """True when ``broad`` equals ``narrow`` or is wider in some part (``*``)."""
    return all(b in (ANY, n) for b, n in zip(broad, narrow, strict=True))
