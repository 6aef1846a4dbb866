"""The task list shows the right rows: each page, a capability, a search, by keys and by mouse;
its table fits any width and draws again only what changed (what it costs per key press is
benchmarks/tui_open_bench.py's job)."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Label

from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.client import local_client
from agentmarket_tui.screens import tasks
from agentmarket_tui.screens.task_detail import TaskDetailScreen
from agentmarket_tui.widgets.row_table import Column, Row, RowTable, column_widths
from engine import Market

from .snapshot_app import settle
from .test_flows import type_text

CAPABILITIES = ("research", "writing", "coding")
WORDS = ("parser", "report", "haiku")


def fill(market: Market, count: int) -> None:
    """``count`` tasks, cycling through CAPABILITIES and WORDS so each filter has a few pages' worth."""
    poster = market.register_agent(name="Poster", capabilities=["writing"], owner_email="p@example.com").agent.id
    market.grant(poster, 10 * count)
    for number in range(count):
        market.post_task(poster, title=f"{WORDS[number % 3]} task {number}", budget=1,
                         required_capabilities=[CAPABILITIES[number % 3 - 1]])


def rows(app: AgentMarketApp) -> list[str]:
    return app.screen.query_one("#tasks-table", RowTable).row_keys


def summary(app: AgentMarketApp) -> str:
    return str(app.screen.query_one("#tasks-page", Label).render())


def ids(market: Market, offset: int = 0, **filters: Any) -> list[str]:
    """The ids of the page of 50 that starts at ``offset``, straight from the engine."""
    return [task.id for task in market.list_tasks(limit=tasks.PAGE_SIZE, offset=offset, **filters)]


async def press(pilot: Pilot[Any], *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


def test_pages_a_capability_and_a_search_show_the_engines_rows(market: Market,
                                                               monkeypatch: Any) -> None:
    monkeypatch.setattr(tasks, "SEARCH_DELAY_SECONDS", 3600)  # only Enter applies what is typed
    fill(market, 130)

    async def run() -> None:
        app = AgentMarketApp(local_client(market), live=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert rows(app) == ids(market) and summary(app).startswith("1–50 of 130")
            await press(pilot, "right_square_bracket")
            assert rows(app) == ids(market, 50) and summary(app).startswith("51–100 of 130")
            await press(pilot, "pagedown")  # the table does not take it: it turns the page too
            assert rows(app) == ids(market, 100) and len(rows(app)) == 30
            await press(pilot, "right_square_bracket")  # past the last page: stays
            assert rows(app) == ids(market, 100)
            await press(pilot, "left_square_bracket")
            assert rows(app) == ids(market, 50)

            app.screen.query_one("#task-capability", Input).focus()
            await type_text(pilot, "research")
            await press(pilot, "enter")
            assert rows(app) == ids(market, capability="research") and summary(app).startswith("1–43 of 43")
            await press(pilot, "right_square_bracket")  # 43 fit on one page
            assert summary(app).startswith("1–43 of 43")

            app.screen.query_one("#task-capability", Input).value = ""
            app.screen.query_one("#task-search", Input).focus()
            await type_text(pilot, "haiku")
            await press(pilot, "enter")
            found = ids(market, search="haiku")
            assert rows(app) == found and len(found) == 43
            assert all("haiku" in market.get_task(task_id).title for task_id in found)

            await type_text(pilot, " zzzz")
            await press(pilot, "enter")
            assert rows(app) == [] and summary(app).startswith("0–0 of 0")

    asyncio.run(run())


def test_keys_and_the_mouse_open_the_task_under_the_cursor(market: Market) -> None:
    fill(market, 60)

    async def run() -> None:
        app = AgentMarketApp(local_client(market), live=False)
        async with app.run_test(size=(100, 20)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#tasks-table", RowTable)
            assert table.has_focus
            await press(pilot, "down", "down", "enter")
            assert isinstance(app.screen, TaskDetailScreen) and app.screen.task_id == ids(market)[2]
            await press(pilot, "escape")
            await press(pilot, "end")  # the last row, scrolled into view
            assert table.cursor_row == 49 and table.scroll_y > 0
            await press(pilot, "home")
            assert table.cursor_row == 0 and table.scroll_y == 0
            await pilot.click("#tasks-table", offset=(5, 4))  # the heading, then rows 0, 1, 2: row 3
            await settle(pilot)
            assert table.cursor_row == 3 and not isinstance(app.screen, TaskDetailScreen)
            await pilot.click("#tasks-table", offset=(5, 4))  # a click on the cursor row opens it
            await settle(pilot)
            assert isinstance(app.screen, TaskDetailScreen) and app.screen.task_id == ids(market)[3]

    asyncio.run(run())


def test_columns_share_the_width_and_the_optional_one_goes_first() -> None:
    columns = (Column("Title", 20, flex=3, max_width=60), Column("Status", 9),
               Column("Caps", 12, flex=1, max_width=32), Column("Posted", 16, optional=True))
    assert column_widths(columns, 100) == [20 + 26, 9, 12 + 8, 16]  # 35 cells left over, 3:1
    assert column_widths(columns, 300) == [60, 9, 32, 16]  # no wider than their most
    assert column_widths(columns, 60) == [20 + 9, 9, 12 + 3, 0]  # too narrow for Posted


class Table(App[None]):
    """A bare RowTable, to watch which of its lines and scrollbars are drawn."""

    def compose(self) -> ComposeResult:
        yield RowTable(Column("Title", 10), Column("N", 3))


def table_rows(count: int, changed: int | None = None) -> list[Row]:
    return [(f"k{n}", (Text("changed" if n == changed else f"row {n}"), Text(str(n)))) for n in range(count)]


def test_the_table_draws_again_only_rows_that_changed_and_its_scrollbar_when_its_height_does() -> None:
    async def run() -> None:
        app = Table()
        async with app.run_test(size=(40, 12)) as pilot:
            table = app.query_one(RowTable)
            table.set_rows(table_rows(30))
            await pilot.pause()
            drawn: list[int] = []
            render_line = table.render_line
            table.render_line = lambda y: drawn.append(y) or render_line(y)  # type: ignore[method-assign]
            bar = table.vertical_scrollbar
            bars: list[int] = []
            render_bar = bar.render
            bar.render = lambda: bars.append(1) or render_bar()  # type: ignore[method-assign]

            table.set_rows(table_rows(30))  # the same page again: nothing to draw
            app.screen.refresh(layout=True)  # a layout of the screen, the table's size unchanged
            await pilot.pause()
            assert drawn == [] and bars == []
            table.set_rows(table_rows(30, changed=2))
            await pilot.pause()
            assert drawn == [3]  # under the heading
            assert table.render_line(3).text.strip().startswith("changed")

            table.set_rows(table_rows(5))  # fits: no scrollbar
            await pilot.pause()
            assert not table.show_vertical_scrollbar and table.row_keys == [f"k{n}" for n in range(5)]
            table.set_rows(table_rows(40))
            await pilot.pause()
            assert table.show_vertical_scrollbar and bar.window_virtual_size == 41 and bars

    asyncio.run(run())
