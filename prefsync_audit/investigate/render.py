"""Drawing investigation answers with rich: pure functions from data to renderables.

Each ``*_renderables`` function reads one answer (a :class:`PersonTrace`, a
:class:`SystemDiff`, a :class:`FindingsAnswer`) and returns rich renderables;
:func:`to_text` draws them without colour at a fixed width, for pipes, files
and tests. The JSON forms are the answers' ``to_dict()``.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

import pandas as pd
from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from prefsync_audit.investigate.diff import STATES, SystemDiff
from prefsync_audit.investigate.explain import Reason
from prefsync_audit.investigate.findings_query import FindingsAnswer
from prefsync_audit.investigate.trace import AGREES, KeyTrace, PersonTrace
from prefsync_audit.report._format import duration

#: Plain-text width when stdout is not a terminal (as ``run``).
TEXT_WIDTH = 110
VERDICT_STYLE = {
    AGREES: "green",
    "suppression_gap": "bold red",
    "unverified_resubscribe": "bold red",
    "pending_sync": "yellow",
    "over_suppression": "yellow",
    "unconfirmed_grant": "yellow",
    "missing_preference": "yellow",
}
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
STATE_STYLE = {"granted": "green", "denied": "red", "unknown": "yellow"}
#: The ``counts`` column of a timeline: yes/no and why, in a few words.
SHORT_REASON = {
    Reason.DENIAL.value: "yes: a denial",
    Reason.AUTHORITY_GRANT.value: "yes: the authority",
    Reason.GRANT_WITHOUT_AUTHORITY.value: "yes: no authority",
    Reason.NOT_AUTHORITY.value: "no: not the authority",
    Reason.UNVERIFIED_REGRANT.value: "no: re-grant, no proof",
    Reason.OVERRIDDEN_BY_NARROWER_DENIAL.value: "no: narrower denial",
    Reason.NOT_A_STATE.value: "no: unknown value",
}


def to_text(renderables: Iterable[RenderableType], width: int = TEXT_WIDTH) -> str:
    """Renderables as plain text (no colour, no terminal codes)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    for item in renderables:
        console.print(item)
    return buffer.getvalue()


def to_json(document: dict[str, Any]) -> str:
    """A JSON document as printed by ``--format json``."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def print_renderables(renderables: list[RenderableType]) -> None:
    """On a terminal: in colour (unless ``NO_COLOR``); else plain text, 110 wide."""
    if sys.stdout.isatty():
        console = Console(no_color=bool(os.environ.get("NO_COLOR")))
        for item in renderables:
            console.print(item)
    else:
        sys.stdout.write(to_text(renderables))


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _show(value: object) -> str:
    return "–" if _missing(value) or value == "" else str(value)


def _where(source_file: str | None, source_row: int | None) -> str:
    if _missing(source_file):
        return "–"
    return f"{source_file}:{source_row}" if source_row is not None else source_file


def _short_where(source_file: str | None, source_row: int | None) -> str:
    """``file.csv:12``: the file name without its folders (the full path is in JSON)."""
    name = None if _missing(source_file) else str(source_file).replace("\\", "/").rsplit("/", 1)[-1]
    return _where(name, source_row)


def _time(value: str | None) -> str:
    return "(no time)" if value is None else value.replace("T", " ").removesuffix("Z")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


#: Columns never wrapped (short words) and columns folded anywhere (paths, identifiers).
NO_WRAP = {
    "",
    "time",
    "updated",
    "kind",
    "system",
    "severity",
    "state",
    "expected",
    "actual",
    "verdict",
    "lag",
    "finding id",
    "person",
    "counts",
}
FOLD = {"file:row", "identifiers", "held by", "detail", "key"}
MIN_WIDTH = {"key": 17}
MAX_WIDTH = {"value": 14}


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for column in columns:
        table.add_column(
            column,
            no_wrap=column in NO_WRAP,
            overflow="fold" if column in FOLD else "ellipsis",
            min_width=MIN_WIDTH.get(column),
            max_width=MAX_WIDTH.get(column),
        )
    return table


def _state(state: str | None) -> Text:
    return Text(_show(state), style=STATE_STYLE.get(state or "", ""))


# ── trace ──────────────────────────────────────────────────────────────────────


def trace_renderables(trace: PersonTrace) -> list[RenderableType]:
    """A headline panel, then a tree: identifiers, records, each key, findings."""
    systems = sorted({r.system for r in trace.records})
    critical = sum(f.severity == "critical" for f in trace.findings)
    head = Text.assemble(("Person ", "bold"), (str(trace.person_id), "bold"))
    head.append(f"  anchor {_show(trace.anchor)}")
    lines = [
        head,
        Text(f"input {trace.input} matched " + (", ".join(trace.matched) or "by person id")),
        Text(
            f"{_plural(len(trace.records), 'record')} in {_plural(len(systems), 'system')} "
            f"({', '.join(systems)}) · {_plural(len(trace.keys), 'preference key')} · "
            f"{_plural(len(trace.findings), 'finding')} ({critical} critical)"
        ),
    ]
    if trace.identity_conflict:
        lines.append(Text(f"identity conflict: {trace.identity_conflict}", style="bold yellow"))
    title = f"trace · {trace.source} · as of {_show(trace.as_of)}"
    items: list[RenderableType] = [Panel(Group(*lines), title=title, expand=False)]

    tree = Tree(Text(f"person {trace.person_id}", style="bold"))
    tree.add(Text("Identifiers", style="bold")).add(_identifiers_table(trace))
    tree.add(Text("Records", style="bold")).add(_records_table(trace))
    for key in trace.keys:
        _add_key(tree, key)
    if trace.findings:
        tree.add(Text("Findings", style="bold")).add(_findings_of_person(trace))
    items.append(tree)
    items += [Text(f"note: {note}", style="yellow") for note in trace.notes]
    return items


def _identifiers_table(trace: PersonTrace) -> Table:
    table = _table("kind", "identifier", "held by", "linking")
    for ident in trace.identifiers:
        groups: dict[tuple[str, str, str | None], list[str]] = {}
        for holder in ident.records:
            name = _short_where(holder.source_file, None)
            rows = groups.setdefault((holder.system, name, holder.via), [])
            rows.append(_show(holder.source_row))
        held = []
        for (system, name, via), rows in groups.items():
            kind, _, profile = (via or "").partition(":")
            derived = f" ← hash of its {kind} ({profile} rule)" if via else ""
            held.append(f"{system} {name}:{','.join(rows)}{derived}")
        value = Text(ident.value, style="bold" if ident.matched else "")
        if ident.matched:
            value.append(" ◀ input")
        table.add_row(ident.kind, value, "\n".join(held), ident.linking)
    return table


def _records_table(trace: PersonTrace) -> Table:
    table = _table("system", "file:row", "record id", "identifiers")
    for record in trace.records:
        table.add_row(
            record.system,
            _short_where(record.source_file, record.source_row),
            _show(record.record_id),
            record.identifiers,
        )
    return table


def _add_key(tree: Tree, key: KeyTrace) -> None:
    label = Text.assemble((key.key, "bold"), "  expected ", _state(key.expected_state))
    label.append(f"  rule: {key.rule}", style="cyan")
    if key.deciding_at or key.deciding_system:
        since = _time(key.deciding_at) if key.deciding_at else "(no time)"
        label.append(f"  since {since} ({_show(key.deciding_system)})")
    branch = tree.add(label)
    branch.add(Text(key.explanation))
    timeline = _table("time", "system", "state", "value", "counts", "", "file:row")
    for entry in key.timeline:
        counts = SHORT_REASON.get(entry.reason, entry.reason)
        if entry.observed_key != key.key:
            counts += f" (key {entry.observed_key})"
        role = "decides" if entry.decides else "began" if entry.deciding_change else ""
        timeline.add_row(
            _time(entry.updated_at),
            entry.system,
            _state(entry.state),
            _show(entry.raw_value),
            Text(counts, style="" if entry.counts else "dim"),
            Text(role, style="bold"),
            _short_where(entry.source_file, entry.source_row),
        )
    branch.add(Text("timeline", style="italic")).add(timeline)
    verdicts = _table("system", "state", "updated", "verdict", "lag")
    for verdict in key.systems:
        verdicts.add_row(
            verdict.system,
            _state(verdict.actual_state),
            _time(verdict.system_updated_at) if verdict.actual_state else "–",
            Text(verdict.verdict, style=VERDICT_STYLE.get(verdict.verdict, "dim")),
            duration(verdict.lag_seconds),
        )
    branch.add(Text("verdicts", style="italic")).add(verdicts)


def _findings_of_person(trace: PersonTrace) -> Table:
    table = _table("severity", "kind", "system", "key", "detail", "file:row", "finding id")
    for finding in trace.findings:
        table.add_row(
            finding.severity,
            Text(finding.kind, style=VERDICT_STYLE.get(finding.kind, "")),
            _show(finding.system),
            _show(finding.key),
            _show(finding.detail),
            _short_where(finding.source_file, finding.source_row),
            finding.finding_id,
        )
    return table


# ── diff ───────────────────────────────────────────────────────────────────────


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def diff_renderables(diff: SystemDiff) -> list[RenderableType]:
    """A headline, then per key its cross-tab and sample of disagreeing persons."""
    a, b = diff.system_a, diff.system_b
    scope = " ".join(
        f"{name} {value}"
        for name, value in (("purpose", diff.purpose), ("channel", diff.channel))
        if value
    )
    overall = diff.overall
    head = Text.assemble(
        (f"{a} vs {b}", "bold"),
        f"  {_plural(len(diff.keys), 'shared key')}{' · ' + scope if scope else ''}"
        f" · agreement {_rate(overall.agreement_rate)} "
        f"({overall.agreeing} of {overall.both_known} persons known in both)",
    )
    items: list[RenderableType] = [
        Panel(head, title=f"diff · {diff.source} · as of {_show(diff.as_of)}", expand=False)
    ]
    for key in diff.keys:
        agreement = key.agreement
        items.append(
            Text.assemble(
                (key.key, "bold"),
                f": {agreement.persons} persons · agreement {_rate(agreement.agreement_rate)} "
                f"({agreement.agreeing} of {agreement.both_known}) · {key.disagreeing} disagree",
            )
        )
        table = Table()
        table.add_column(f"{a} ↓  {b} →")
        for state in STATES:
            table.add_column(state, justify="right")
        for state_a in STATES:
            cells = []
            for state_b in STATES:
                count = key.crosstab[state_a][state_b]
                known = state_a in STATE_STYLE and state_b in STATE_STYLE
                differ = known and state_a != state_b and "unknown" not in (state_a, state_b)
                cells.append(Text(str(count), style="bold red" if differ and count else ""))
            table.add_row(state_a, *cells)
        items.append(table)
        for person in key.sample:
            items.append(
                Text(
                    f"  person {person.person_id} ({person.identifiers}): "
                    f"{a} {person.state_a}, {b} {person.state_b}"
                )
            )
        if key.disagreeing > len(key.sample):
            items.append(Text(f"  … {key.disagreeing - len(key.sample)} more disagree"))
    for system, keys in ((a, diff.only_a), (b, diff.only_b)):
        if keys:
            items.append(Text(f"keys only {system} holds (not compared): {', '.join(keys)}"))
    if not diff.keys:
        items.append(Text(f"{a} and {b} hold no preference key in common", style="yellow"))
    return items


# ── findings ───────────────────────────────────────────────────────────────────


def findings_renderables(answer: FindingsAnswer) -> list[RenderableType]:
    """A table of the findings returned, and a line with the counts."""
    frame = answer.findings
    # Severity follows the kind (DESIGN §6): shown by colour here, a column in csv/json.
    table = _table("kind", "system", "key", "expected → actual", "lag", "person", "file:row")
    for row in frame.itertuples(index=False):
        parts = [row.purpose, row.channel, row.scope]
        key = "/".join(parts) if all(isinstance(p, str) for p in parts) else _show(row.detail)
        lag = None if _missing(row.lag_seconds) else float(row.lag_seconds)
        source_row = None if _missing(row.source_row) else int(row.source_row)
        states = (
            f"{_show(row.expected_state)} → {_show(row.actual_state)}"
            if not _missing(row.expected_state) or not _missing(row.actual_state)
            else "–"
        )
        person = "–" if _missing(row.person_id) else str(int(row.person_id))
        table.add_row(
            Text(row.kind, style=SEVERITY_STYLE.get(row.severity, "")),
            _show(row.system),
            key,
            states,
            duration(lag),
            person,
            _short_where(row.source_file, source_row),
        )
    shown = len(frame)
    more = f"; use --limit to see more than {shown}" if answer.matched > shown else ""
    line = Text(f"{shown} of {answer.matched} matching findings ({answer.total} in the run){more}")
    return [table, line] if shown else [line]
