"""The terminal app's pager walks forward by each page's next_cursor and back by a stack of the
cursors it passed, so any page costs what the first does."""

from __future__ import annotations

from agentmarket_tui.client import Page
from agentmarket_tui.screens.paging import Pager


def _page(next_cursor: str | None, items: int = 2, total: int = 5) -> Page[object]:
    return Page(list(range(items)), total, 2, 0, next_cursor=next_cursor)


def test_the_pager_goes_forward_by_cursor_and_back_by_its_stack() -> None:
    pager = Pager(size=2)
    assert pager.summary(_page("c2"), "hint") == "1–2 of 5   hint"
    assert pager.step(1) and (pager.cursor, pager.offset) == ("c2", 2)
    assert pager.summary(_page("c3"), "").startswith("3–4 of 5")
    assert pager.step(1) and pager.cursor == "c3"
    pager.summary(_page(None, items=1), "")
    assert not pager.step(1)  # the last page: nowhere further
    assert pager.step(-1) and (pager.cursor, pager.offset) == ("c2", 2)
    assert pager.step(-1) and (pager.cursor, pager.offset) == (None, 0)
    assert not pager.step(-1)


def test_a_reset_forgets_the_cursors_and_a_capped_total_shows_a_plus() -> None:
    pager = Pager(size=2)
    pager.summary(_page("c2"), "")
    pager.step(1)
    pager.reset()
    assert (pager.cursor, pager.offset, pager.back) == (None, 0, [])
    capped = Page([1, 2], 10_000, 2, 0, total_is_lower_bound=True, next_cursor="c")
    assert pager.summary(capped, "").startswith("1–2 of 10,000+")
