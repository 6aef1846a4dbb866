"""Paged lists: the keys, where a list is (offset, total, summary) and the screen that pages."""

from __future__ import annotations

from dataclasses import dataclass

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
    """The offset of the page a screen shows, moved by the PAGE_BINDINGS keys within the list's total."""

    size: int = 20
    offset: int = 0
    total: int = 0

    def step(self, pages: int) -> bool:
        """Move ``pages`` pages forward (negative: back). Returns whether the offset changed."""
        offset = self.offset + pages * self.size
        if offset < 0 or offset >= max(self.total, 1):
            return False
        self.offset = offset
        return True

    def summary(self, page: Page[object], hint: str) -> str:
        """'1–20 of 57' followed by ``hint``; also remembers the total."""
        self.total = page.total
        first = page.offset + 1 if page.items else 0
        return f"{first:,}–{page.offset + len(page.items):,} of {page.total:,}   {hint}"


class PagedScreen(MarketScreen):
    """A screen that shows one page of a list: its ``pager``, and the action PAGE_BINDINGS call.

    Subclasses create ``pager`` and list ``*PAGE_BINDINGS`` where their footer should show them.
    """

    pager: Pager

    def action_page(self, pages: int) -> None:
        if self.pager.step(pages):
            self.reload()
