"""From what an analyst types to one person of the run.

The input is normalized the way the pipeline normalizes each identifier kind
(:func:`~prefsync_audit.investigate.identifiers.candidates`) and looked up
among every identifier the run's records hold or derive. One person: that is
the answer. None, or several (a value left out of linking, such as a shared
placeholder email, belongs to several persons): a one-line error, exit 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prefsync_audit.investigate.errors import AmbiguousIdentifierError, IdentifierNotFoundError
from prefsync_audit.investigate.identifiers import (
    Candidate,
    candidates,
    describe_person,
    mask,
    person_id_of,
)
from prefsync_audit.investigate.source import Source

#: How many persons an ambiguity message names.
LISTED = 10
_HEX64 = re.compile(r"^\s*[0-9a-fA-F]{64}\s*$")


@dataclass(frozen=True)
class Match:
    """How the input matched the person: as which kind, which value."""

    kind: str
    value: str


def mask_input(text: str, reveal: bool = False) -> str:
    """The analyst's input as messages show it (masked like its likely kind)."""
    text = text.strip()
    if reveal:
        return text
    if "@" in text:
        kind = "email"
    elif _HEX64.match(text):
        kind = "email_sha256"
    elif sum(c.isdigit() for c in text) >= 7 and not any(c.isalpha() for c in text):
        kind = "phone"
    else:
        kind = "customer_id"
    return mask(kind, text)


def find_person(source: Source, text: str, reveal: bool = False) -> tuple[int, list[Match]]:
    """The one person ``text`` identifies, and how it matched.

    ``person:ID`` names a person directly. Raises
    :class:`IdentifierNotFoundError` or :class:`AmbiguousIdentifierError`.
    """
    if not text.strip():
        raise IdentifierNotFoundError("the identifier is empty")
    shown = mask_input(text, reveal)
    direct = person_id_of(text)
    if direct is not None:
        if source.anchor(direct) is None:
            raise IdentifierNotFoundError(f"no person {direct} in {source.info.label}")
        return direct, []
    tried = candidates(text, source.settings)
    if not tried:
        raise IdentifierNotFoundError(f"{shown!r} is no identifier of any kind")
    wanted = {(c.kind, c.value) for c in tried}
    rows = source.identifier_rows({c.value for c in tried})
    pairs = list(zip(rows["kind"], rows["value"], rows["person_id"], strict=True))
    hits = [(kind, value, int(p)) for kind, value, p in pairs if (kind, value) in wanted]
    persons = sorted({p for _, _, p in hits})
    if not persons:
        kinds = ", ".join(dict.fromkeys(c.kind for c in tried))
        raise IdentifierNotFoundError(
            f"no person matches {shown!r} in {source.info.label} (tried as {kinds})"
        )
    if len(persons) > 1:
        raise AmbiguousIdentifierError(_ambiguous(source, shown, hits, persons, reveal), persons)
    matches = sorted({Match(kind, value) for kind, value, _ in hits}, key=_match_order(tried))
    return persons[0], matches


def _match_order(tried: list[Candidate]):
    order = {(c.kind, c.value): i for i, c in enumerate(tried)}
    return lambda m: order.get((m.kind, m.value), len(order))


def _ambiguous(
    source: Source, shown: str, hits: list[tuple[str, str, int]], persons: list[int], reveal: bool
) -> str:
    records = source.records(persons[:LISTED])
    kinds = source.settings.kinds
    described = []
    for person in persons[:LISTED]:
        mine = records[records["person_id"] == person]
        described.append(f"person {person} ({describe_person(mine, kinds, reveal)})")
    more = f" and {len(persons) - LISTED} more" if len(persons) > LISTED else ""
    reasons = {}
    for person in persons[:1]:
        pairs = {(k, v) for k, v, p in hits if p == person}
        reasons.update(source.ignored_reasons(person, pairs))
    why = ""
    if reasons:
        why = f"; the value is left out of linking ({next(iter(reasons.values()))})"
    return (
        f"{shown!r} matches {len(persons)} persons in {source.info.label}{why}: "
        + ", ".join(described)
        + more
        + "; trace one of them as person:ID"
    )
