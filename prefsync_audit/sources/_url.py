"""Database URLs: ``${ENV}`` expansion, password masking, and scrubbing driver messages.

A URL in a config is written once and shown in many places (the terminal,
``summary.json``, error messages). Its password is never shown: every place
that prints a URL prints :func:`mask_url` of it, and every message that comes
from a driver goes through :meth:`DatabaseURL.scrub` first, which removes the
password (as written and percent-encoded) and masks any URL or ``password=``
setting in the text.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from prefsync_audit.errors import InputError

#: What a password is replaced by wherever it would appear.
MASK = "***"

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
# ``scheme://user:password@``: the password runs to the last ``@`` of the authority.
_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:@/?#\s]*):(?P<password>[^@\s]*)@",
)
_SETTING = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd)\s*=\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s;&]+)",
    re.IGNORECASE,
)


def mask_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    >>> mask_url("postgresql://audit:s3cret@db:5432/app")
    'postgresql://audit:***@db:5432/app'
    """
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _SETTING.sub(lambda m: f"{m['key']}{MASK}", text)


def references(text: str) -> list[str]:
    """The environment variables ``text`` refers to as ``${NAME}``, in order."""
    return list(dict.fromkeys(_REFERENCE.findall(text)))


def _expand(text: str, where: str, encode: bool) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1]
        found = os.environ.get(name)
        if found is None:
            raise InputError(f"{where}: environment variable {name} is not set")
        return quote(found, safe="") if encode else found

    return _REFERENCE.sub(value, text)


@dataclass(frozen=True)
class DatabaseURL:
    """A database URL with its ``${ENV}`` references replaced, and what to hide."""

    url: str
    """The expanded URL, password included: only ever handed to a driver."""
    scheme: str
    """The part before ``://``, lowercase (``postgresql``, ``mysql+pymysql``…)."""
    masked: str
    """The URL as shown anywhere: ``user:***@host``."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Texts that must never be shown (the password, raw and percent-encoded)."""

    @property
    def dialect(self) -> str:
        """The scheme without its driver: ``postgresql+psycopg`` → ``postgresql``."""
        return self.scheme.split("+", 1)[0]

    @property
    def driver(self) -> str | None:
        """The driver named in the scheme (``psycopg`` in ``postgresql+psycopg``), if any."""
        return self.scheme.split("+", 1)[1] if "+" in self.scheme else None

    @property
    def rest(self) -> str:
        """Everything after ``scheme://``."""
        return self.url.split("://", 1)[1]

    def scrub(self, message: object) -> str:
        """One line of a driver's message, with no password left in it."""
        text = str(message)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = mask_url(text)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[0] if lines else type(message).__name__


def parse_url(raw: str, where: str) -> DatabaseURL:
    """Expand ``${NAME}`` references in ``raw`` and work out what to mask.

    References inside the user-info part (``user:${PG_PASSWORD}@``) are
    percent-encoded, so a password holding ``@``, ``/`` or ``:`` still gives a
    valid URL; elsewhere (``${DATABASE_URL}`` for the whole URL, a host, a
    database name) the value is inserted as it is. A variable that is not set is
    an :class:`InputError` naming ``where`` and the variable (never its value).
    """
    raw = raw.strip()
    match = _SCHEME.match(raw)
    authority, slash, path = match["rest"].partition("/") if match else ("", "", "")
    if match and "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        url = (
            f"{match['scheme']}://{_expand(userinfo, where, encode=True)}@"
            f"{_expand(host + slash + path, where, encode=False)}"
        )
    else:
        url = _expand(raw, where, encode=False)
    parsed = _SCHEME.match(url)
    if parsed is None:
        raise InputError(f"{where}: not a database URL (expected scheme://…): {mask_url(url)}")
    secrets: list[str] = []
    authority = parsed["rest"].split("/", 1)[0]
    if "@" in authority:
        userinfo = authority.rpartition("@")[0]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            secrets += [password, unquote(password), quote(unquote(password), safe="")]
    return DatabaseURL(
        url=url,
        scheme=parsed["scheme"].lower(),
        masked=mask_url(url),
        secrets=tuple(sorted({s for s in secrets if s}, key=len, reverse=True)),
    )
