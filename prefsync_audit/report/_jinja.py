"""The shared Jinja2 environments: HTML autoescaped, Markdown escaped by ``finalize``.

Both use ``StrictUndefined``, so a template naming a field the report model
does not have fails loudly instead of printing nothing.
"""

from __future__ import annotations

import re
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

#: Characters that mean something in (GitHub-flavoured) Markdown or raw HTML.
#: ``(``, ``#``, ``+``, ``!`` only matter after ``]`` or at a line start, which
#: values never are, so they are left readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")


class MarkdownSafe(str):
    """Text already written as Markdown: ``finalize`` leaves it alone."""


def escape_markdown(value: object) -> str:
    """Any value as literal Markdown text: specials backslash-escaped, one line.

    Escaping ``<`` and ``&`` keeps raw HTML (``<script>``) and entities inert;
    escaping ``|`` keeps table cells intact; newlines would end a table row.
    """
    if isinstance(value, MarkdownSafe):
        return value
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def code(value: object) -> MarkdownSafe:
    """``value`` as an inline code span, safe inside a table cell."""
    text = str(value).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return MarkdownSafe(f"{fence}{pad}{text}{pad}{fence}")


@cache
def html_environment() -> Environment:
    return Environment(
        loader=PackageLoader("prefsync_audit.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def markdown_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("prefsync_audit.report", "templates"),
        autoescape=False,
        undefined=StrictUndefined,
        finalize=escape_markdown,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["code"] = code
    return env
