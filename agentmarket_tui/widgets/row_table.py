"""A table that redraws a page of rows in a few milliseconds: it draws only the lines on screen,
one strip per row, with column widths fixed by the table's width rather than measured from
its content (Textual's DataTable renders every cell through Rich and measures every new row,
which costs 100-400 ms for a page of 50 rows on a busy machine)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

#: one row: its key (what RowSelected reports) and a cell per column
Row = tuple[str, Sequence[Text]]


@dataclass(frozen=True)
class Column:
    """A column's heading and width.

    Attributes:
        label: the heading.
        width: cells of content (a fixed column), or the least width of a ``flex`` column.
        flex: this column's share of the width the fixed columns leave (0: fixed).
        max_width: the most a flexible column grows to (0: no limit); what is left stays blank.
        justify: where the content sits in its width.
        optional: hidden when the table is too narrow to give every column its width.
    """

    label: str
    width: int
    flex: int = 0
    max_width: int = 0
    justify: Literal["left", "right"] = "left"
    optional: bool = False


def column_widths(columns: Sequence[Column], width: int, padding: int = 1) -> list[int]:
    """Each column's content width in a table ``width`` cells wide (0: hidden).

    Fixed columns get their width, flexible ones share what is left by their ``flex`` (up to their
    ``max_width``); optional columns are hidden, the rightmost first, while the table is narrower
    than all the widths.
    """
    shown = list(range(len(columns)))

    def needed() -> int:
        return sum(columns[i].width + 2 * padding for i in shown)

    while needed() > width and any(columns[i].optional for i in shown):
        shown.remove(max(i for i in shown if columns[i].optional))
    room = max(width - needed(), 0)
    flexes = sum(columns[i].flex for i in shown) or 1
    widths = []
    for index, column in enumerate(columns):
        extra = room * column.flex // flexes
        if column.max_width:
            extra = min(extra, column.max_width - column.width)
        widths.append(column.width + extra if index in shown else 0)
    return widths


def cell_segments(cell: Text, width: int, justify: str, style: Style, console: Console) -> list[Segment]:
    """``cell`` cut (with an ellipsis) or padded to exactly ``width`` cells, on ``style``."""
    if cell.spans:  # several styles: let Rich cut and render it
        fitted = cell.copy()
        fitted.truncate(width, overflow="ellipsis")
        gap = width - fitted.cell_len
        if justify == "right":
            fitted.pad_left(gap)
        else:
            fitted.pad_right(gap)
        return list(Segment.apply_style(fitted.render(console), style))
    plain = cell.plain
    length = cell_len(plain)
    if length > width:
        plain = set_cell_size(plain, width - 1) + "…" if width > 1 else set_cell_size(plain, width)
        length = width
    gap = " " * (width - length)
    plain = gap + plain if justify == "right" else plain + gap
    return [Segment(plain, style + console.get_style(cell.style) if cell.style else style)]


def same_row(old: Row, new: Row) -> bool:
    """Whether two rows look the same: key, and each cell's text, style and spans."""
    return old[0] == new[0] and len(old[1]) == len(new[1]) and all(
        a.plain == b.plain and a.style == b.style and a.spans == b.spans for a, b in zip(old[1], new[1], strict=True))


class RowTable(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows under a fixed heading, a cursor row, zebra stripes; Enter or a click on the cursor
    row posts :class:`RowTable.RowSelected`. Replace the rows with :meth:`set_rows`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("home", "cursor_to(0)", "First row", show=False),
        Binding("end", "cursor_to(-1)", "Last row", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-table--header", "row-table--cursor", "row-table--even-row", "row-table--hover", "row-table--empty",
    }
    # The look of Textual's DataTable, so this table sits among the app's other tables unnoticed.
    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        overflow-x: hidden;
        &:focus {
            background-tint: $foreground 5%;
            & > .row-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .row-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .row-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .row-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .row-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .row-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .row-table--hover {
            background: $block-hover-background;
        }
        & > .row-table--empty {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    class RowSelected(Message):
        """A row was chosen (Enter, or a click on the cursor row)."""

        def __init__(self, table: RowTable, key: str, row: int) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.row = row

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(self, *columns: Column, empty: str = "Nothing to show", padding: int = 1,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """
        Args:
            columns: the columns, left to right.
            empty: what the table says once rows were set and there are none.
            padding: blank cells on each side of a column.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.columns = columns
        self.empty = empty
        self.padding = padding
        self.cursor_row = 0
        self._rows: list[Row] = []
        self._loaded = False
        self._hover: int | None = None
        self._width = -1
        self._widths: list[int] = []
        self._strips: dict[tuple[int, bool, bool], Strip] = {}
        self._heading: Strip | None = None
        self._base = Style()
        self._laid_out: tuple[Size, Size, Size] | None = None

    # -- the rows ----------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def row_keys(self) -> list[str]:
        """The rows' keys, top to bottom."""
        return [key for key, _ in self._rows]

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Show ``rows`` instead of the current ones; the cursor stays on the same line when it can.

        Only the lines of rows that changed are drawn again: a reload of the same page (a screen
        shown again, a live reload) keeps the others, already drawn.
        """
        old, self._rows = self._rows, list(rows)
        changed = {row for row in range(max(len(old), len(self._rows)))
                   if row >= len(old) or row >= len(self._rows) or not same_row(old[row], self._rows[row])}
        self._strips = {state: strip for state, strip in self._strips.items() if state[0] not in changed}
        self.cursor_row = max(min(self.cursor_row, len(self._rows) - 1), 0)
        height = len(self._rows) + 1
        if not self._loaded or self.virtual_size.height != height or len(changed) == len(self._rows):
            self._loaded = True
            self.virtual_size = Size(0, height)
            self.refresh()  # new rows (a page): all of it, one region
        elif changed:
            self.refresh(*map(self._row_region, sorted(changed)))

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on ``row`` (clamped to the rows) and scroll it into view."""
        old, self.cursor_row = self.cursor_row, max(min(row, len(self._rows) - 1), 0)
        self._refresh_row(old)
        self._refresh_row(self.cursor_row)
        visible = max(self.scrollable_content_region.height - 1, 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def action_cursor(self, rows: int) -> None:
        self._set_hover(None)  # the keyboard leads now: only one highlighted row
        self.move_cursor(row=self.cursor_row + rows)

    def action_cursor_to(self, row: int) -> None:
        self._set_hover(None)
        self.move_cursor(row=row if row >= 0 else len(self._rows) - 1)

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.RowSelected(self, self._rows[self.cursor_row][0], self.cursor_row))

    # -- the mouse ---------------------------------------------------------------------
    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None
        row = round(self.scroll_y) + offset.y - 1
        return row if row < len(self._rows) else None

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def _on_leave(self, _: events.Leave) -> None:
        self._set_hover(None)

    def _on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is None:
            return
        event.stop()
        if row == self.cursor_row:
            self.action_select()
        else:
            self.move_cursor(row=row)

    def _set_hover(self, row: int | None) -> None:
        if row != self._hover:
            old, self._hover = self._hover, row
            self._refresh_row(old)
            self._refresh_row(row)

    def _refresh_row(self, row: int | None) -> None:
        if row is not None:
            self.refresh(self._row_region(row))

    def _row_region(self, row: int) -> Region:
        """Where ``row`` is drawn in the table (under the heading, as scrolled)."""
        return Region(0, row + 1 - round(self.scroll_y), self.size.width, 1)

    # -- drawing -----------------------------------------------------------------------
    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # Textual's ScrollView updates and redraws its scrollbar at every layout of the screen (its
        # layout's virtual size is never the one this table sets): ~4 ms of showing the task list
        # again. The scrollbar only changes with the table's size or its rows' height.
        laid_out = (size, container_size, self.virtual_size)
        if laid_out == self._laid_out:
            return False
        self._laid_out = laid_out
        return super()._size_updated(size, virtual_size, container_size, layout)

    def notify_style_update(self) -> None:
        super().notify_style_update()  # focus, hover, theme: the cached lines' styles are stale
        self._strips.clear()
        self._heading = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style  # the widget's style walks its ancestors: once per redraw, not per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._width:
            self._width, self._widths, self._heading = width, column_widths(self.columns, width, self.padding), None
            self._strips.clear()
        style = self.get_component_rich_style
        if y == 0:
            if self._heading is None:
                cells = [Text(c.label) for c in self.columns]
                self._heading = self._line(cells, style("row-table--header"), width)
            return self._heading
        row = round(self.scroll_y) + y - 1
        if row >= len(self._rows):
            if row == 0 and self._loaded and self.empty:
                return self._line([Text(self.empty)], style("row-table--empty"), width,
                                  [max(width - 2 * self.padding, 0)])
            return Strip.blank(width, self._base)
        state = (row, row == self.cursor_row, row == self._hover)
        strip = self._strips.get(state)
        if strip is None:
            row_style = self._base if row % 2 else style("row-table--even-row")
            if state[2]:
                row_style += style("row-table--hover")
            cursor = style("row-table--cursor") if state[1] else None
            strip = self._strips[state] = self._line(self._rows[row][1], row_style, width, post=cursor)
        return strip

    def _line(self, cells: Sequence[Text], style: Style, width: int, widths: Sequence[int] | None = None,
              post: Style | None = None) -> Strip:
        """One line of ``cells`` in the columns' widths on ``style`` (``post`` over everything).

        Every cell is made exactly its column's width, so the line's length is known without
        measuring its text again (measuring costs more than the rest of the line).
        """
        pad = Segment(" " * self.padding, style)
        segments: list[Segment] = []
        used = 0
        for column, cell, cell_width in zip(self.columns, cells, widths or self._widths, strict=False):
            if not cell_width or used + cell_width + 2 * self.padding > width:
                continue
            segments.append(pad)
            segments.extend(cell_segments(cell, cell_width, column.justify, style, self.app.console))
            segments.append(pad)
            used += cell_width + 2 * self.padding
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        if post is not None:
            segments = list(Segment.apply_style(segments, post_style=post))
        return Strip(Segment.simplify(segments), width)
