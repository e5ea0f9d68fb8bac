"""The errors prefsync-audit raises on purpose.

Every error a user can cause (a bad config, a broken export, an undecodable
consent string) derives from :class:`AuditError`. The CLI catches that one base
in exactly one place and prints its one-line message with exit code 2; anything
else is a bug and is allowed to surface as one.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base of every error caused by the user's inputs rather than by a bug."""

    exit_code: int = 2


class ConfigError(AuditError):
    """An audit config or mapping is invalid: names the file, key path and line.

    ``problems`` holds every problem found (validation collects, it does not
    stop at the first); the message is the first, with a count of the rest.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or [message]
        more = len(self.problems) - 1
        super().__init__(message + (f" (and {more} more problem(s))" if more > 0 else ""))


class InputError(AuditError):
    """An export cannot be read at all: names the file and the place."""

    @classmethod
    def unreadable(cls, path: object, exc: OSError) -> InputError:
        """The operating system would not read the file (missing, a folder, no
        permission)."""
        return cls(f"{path}: cannot read: {exc.strerror or exc}")


class SignalDecodeError(AuditError, ValueError):
    """A consent string (TCF, GPP, US Privacy, GPC, Consent Mode) is malformed.

    ``position`` is the bit (or character) offset where decoding failed, when
    known, so analysts can see *where* a string is broken, not only that it is.
    """

    def __init__(self, reason: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{reason}{where}")
