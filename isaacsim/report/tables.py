"""Tables that stay readable in any terminal: `console()` (the terminal's own width; at least 200
columns into files and pipes) and `print_table`, which prints a table whole when it fits the
console and otherwise in parts that do, each part repeating the key columns (a layer's name), so
that no column is lost and no number is cut to "…"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

PIPE_WIDTH = 200
"""Columns of the console when stdout is a file or a pipe (never cut numbers to fit 80 columns)."""


class Column(NamedTuple):
    """A table column: its header (a "\\n" gives a two-line header) and its justification."""

    header: str
    justify: str = "right"


class Row(NamedTuple):
    """A table row: its cells (one per column, key columns first), a rich style, a rule above it."""

    cells: Sequence[str]
    style: str | None = None
    rule_before: bool = False


def console() -> Console:
    """A console on stdout: a terminal's width, at least `PIPE_WIDTH` columns into files and pipes."""
    from rich.console import Console

    con = Console(highlight=False)
    if not con.is_terminal:
        con.width = max(con.width, PIPE_WIDTH)
    return con


def natural_width(con: Console, renderable) -> int:
    """The columns `renderable` takes with nothing wrapped or cut."""
    return con.measure(renderable, options=con.options.update_width(100_000)).maximum


def _table(columns: Sequence[Column], idx: Sequence[int], rows: Sequence[Row], title: str | None,
           caption: str | None, kwargs: dict) -> Table:
    from rich.table import Table

    tab = Table(title=title, caption=caption, **kwargs)
    for i in idx:
        # fold, never "…": a column squeezed below its width (a terminal too narrow even for one
        # part) wraps its digits onto a second line instead of losing them
        tab.add_column(columns[i].header, justify=columns[i].justify, overflow="fold")
    for r in rows:
        if r.rule_before:
            tab.add_section()
        tab.add_row(*(r.cells[i] for i in idx), style=r.style)
    return tab


def split_columns(con: Console, key: Sequence[Column], groups: Sequence[Sequence[Column]], rows: Sequence[Row],
                  **kwargs) -> list[list[int]]:
    """The column indices of each part: the key columns, then whole groups while they fit
    `con.width` (a group too wide for a part of its own is split column by column)."""
    columns = [*key, *(c for g in groups for c in g)]
    keys = list(range(len(key)))

    def fits(idx: list[int]) -> bool:
        return natural_width(con, _table(columns, idx, rows, None, None, kwargs)) <= con.width

    pieces: list[list[int]] = []
    start = len(key)
    for g in groups:
        group = list(range(start, start + len(g)))
        start += len(g)
        pieces += [group] if fits(keys + group) else [[i] for i in group]
    parts: list[list[int]] = []
    cur: list[int] = []
    for piece in pieces:
        if cur and not fits(keys + cur + piece):
            parts.append(keys + cur)
            cur = []
        cur += piece
    parts.append(keys + cur)
    return parts


def print_table(con: Console, key: Sequence[Column], groups: Sequence[Sequence[Column]], rows: Sequence[Row], *,
                title: str | None = None, caption: str | None = None, **kwargs) -> int:
    """Print the table whole when it fits `con.width`, else in parts (see `split_columns`) titled
    "TITLE (i of n)"; the caption goes under the last part. `kwargs` go to `rich.table.Table`.
    Returns the number of parts printed."""
    columns = [*key, *(c for g in groups for c in g)]
    rows = list(rows)
    whole = _table(columns, range(len(columns)), rows, title, caption, kwargs)
    if natural_width(con, whole) <= con.width:
        con.print(whole)
        return 1
    parts = split_columns(con, key, groups, rows, **kwargs)
    for i, idx in enumerate(parts, 1):
        head = f"{title} ({i} of {len(parts)})" if title else f"part {i} of {len(parts)}"
        con.print(_table(columns, idx, rows, head, caption if i == len(parts) else None, kwargs))
    return len(parts)
