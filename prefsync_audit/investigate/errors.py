"""Errors of the investigation commands: each is a user error (exit code 2).

They derive from :class:`prefsync_audit.errors.AuditError`, so the CLI's single
handler prints their one-line message and exits with code 2.
"""

from __future__ import annotations

from prefsync_audit.errors import AuditError


class InvestigationError(AuditError):
    """Base of the errors ``trace``, ``diff`` and ``findings`` raise on purpose."""


class RunFolderError(InvestigationError):
    """A run folder is missing, or lacks the files a command needs."""


class UnknownSystemError(InvestigationError):
    """A system name that the audit does not know."""


class IdentifierNotFoundError(InvestigationError):
    """The identifier matches no person."""


class AmbiguousIdentifierError(InvestigationError):
    """The identifier matches several persons; ``persons`` lists their ids."""

    def __init__(self, message: str, persons: list[int]) -> None:
        self.persons = persons
        super().__init__(message)
