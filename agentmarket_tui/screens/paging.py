"""Paged lists: the keys, where a list is (cursor, position, total, summary) and the screen that pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.binding import Binding

from ..client import Page
from .base import MarketScreen

#: The same paging keys on every paged screen.
PAGE_BINDINGS = [
    Binding("right_square_bracket,pagedown", "page(1)", "Next page"),
    Binding("left_square_bracket,pageup", "page(-1)", "Prev page"),
]
PAGE_HINT = "[ ]: pages"


@dataclass
class Pager:
    """The page a screen shows, as the cursor it starts at, moved a page at a time by the
    PAGE_BINDINGS keys: forward by the shown page's ``next_cursor``, back by a stack of the
    cursors already passed (so page 10,000 costs what page 1 does).

    Attributes:
        cursor: where the shown page starts (None: the first page); pass it to the list call.
        offset: how many items come before the shown page (for the summary only).
    """

    size: int = 20
    offset: int = 0
    total: int = 0
    cursor: str | None = None
    next_cursor: str | None = None
    back: list[str | None] = field(default_factory=list)

    def reset(self) -> None:
        """Back to the first page (the filters or order changed: old cursors no longer apply)."""
        self.offset, self.cursor, self.next_cursor, self.back = 0, None, None, []

    def step(self, pages: int) -> bool:
        """Move one page forward (``pages`` > 0) or back (< 0). Returns whether the page changed."""
        if pages > 0 and self.next_cursor is not None:
            self.back.append(self.cursor)
            self.cursor, self.offset = self.next_cursor, self.offset + self.size
            return True
        if pages < 0 and self.back:
            self.cursor, self.offset = self.back.pop(), max(self.offset - self.size, 0)
            return True
        return False

    def summary(self, page: Page[object], hint: str) -> str:
        """'1–20 of 57' followed by ``hint``; also remembers the total and the next page's cursor."""
        self.total, self.next_cursor = page.total, page.next_cursor
        first = self.offset + 1 if page.items else 0
        more = "+" if page.total_is_lower_bound else ""
        return f"{first:,}–{self.offset + len(page.items):,} of {page.total:,}{more}   {hint}"


class PagedScreen(MarketScreen):
    """A screen that shows one page of a list: its ``pager``, and the action PAGE_BINDINGS call.

    Subclasses create ``pager`` and list ``*PAGE_BINDINGS`` where their footer should show them.
    """

    pager: Pager

    def action_page(self, pages: int) -> None:
        if self.pager.step(pages):
            self.reload()
