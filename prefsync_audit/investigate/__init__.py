"""Investigation: trace one person, compare two systems, query a run's findings.

The library behind ``prefsync-audit trace``, ``diff`` and ``findings``. Each
question is asked of a :class:`Source`: an audit result in memory
(:class:`ResultSource`) or a past run's output folder (:class:`RunFolderSource`),
and answered as data (dataclasses with ``to_dict()``), rendered elsewhere.
"""

from __future__ import annotations

from prefsync_audit.investigate.errors import (
    AmbiguousIdentifierError,
    IdentifierNotFoundError,
    InvestigationError,
    RunFolderError,
    UnknownSystemError,
)
from prefsync_audit.investigate.runfolder import RunFolderSource
from prefsync_audit.investigate.source import ResultSource, Source
from prefsync_audit.investigate.trace import PersonTrace, trace_person

__all__ = [
    "AmbiguousIdentifierError",
    "IdentifierNotFoundError",
    "InvestigationError",
    "PersonTrace",
    "ResultSource",
    "RunFolderError",
    "RunFolderSource",
    "Source",
    "UnknownSystemError",
    "trace_person",
]
