"""How scripting commands print: aligned tables for people, the API's JSON data for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from engine.queries import Page
from engine.validation import terminal_safe

#: Cells wider than this are cut with an ellipsis in tables (``--json`` is never cut).
MAX_CELL = 48


def print_json(data: Any) -> None:
    """Print ``data`` as JSON, exactly as the API's ``data`` field holds it."""
    click.echo(terminal_safe(json.dumps(data, indent=2, ensure_ascii=False)))  # still JSON: only escapes change


def cell(value: Any) -> str:
    """One value as a table cell: '-' for nothing, lists joined, one line, cut to fit."""
    if value is None:
        text = "-"
    elif isinstance(value, (list, tuple)):
        text = ",".join(str(v) for v in value) or "-"
    elif isinstance(value, float):
        text = f"{value:.1f}"
    else:
        text = terminal_safe(" ".join(str(value).split()))
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "nothing here") -> None:
    """Print rows under a header, each column as wide as its widest cell."""
    cells = [[cell(v) for v in row] for row in rows]
    if not cells:
        click.echo(empty)
        return
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo(click.style("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip(), bold=True))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def print_record(data: dict[str, Any]) -> None:
    """Print one record as ``field: value`` lines (long text in full, indented)."""
    width = max(len(k) for k in data)
    for key, value in data.items():
        if isinstance(value, str) and ("\n" in value or len(value) > 80):
            click.echo(f"{key.ljust(width)}  ")
            for line in value.splitlines() or [""]:
                click.echo(f"    {terminal_safe(line)}")
        else:
            shown = cell(value) if not isinstance(value, str) else terminal_safe(value)
            click.echo(f"{key.ljust(width)}  {shown}")


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    """Print ``data`` as JSON for ``--json``, else run ``human`` to print it for people."""
    if as_json:
        print_json(data)
    else:
        human()


def footer(page: Page[Any], cursor: str | None) -> None:
    """A 'showing a–b of n' line under a paged table (just 'n of total' when it started at
    ``cursor``), and the ``--cursor`` of the next page if there is one."""
    shown, total = len(page.items), f"{page.total}{'+' if page.total_is_lower_bound else ''}"
    if page.total > shown:
        where = f"{shown}" if cursor else f"{page.offset + 1}–{page.offset + shown}"
        click.echo(click.style(f"showing {where} of {total} (use --limit/--offset)", dim=True))
    if page.next_cursor:
        click.echo(click.style(f"next page: --cursor {page.next_cursor}", dim=True))


#: The ``--cursor`` option of every paged list command.
cursor_option = click.option("--cursor", default=None,
                             help="Start at this page (the 'next page' cursor a previous list printed).")
