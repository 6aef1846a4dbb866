"""Switching to a screen (its key, e.g. ``t``) shows it with fresh data in one frame: the screen keeps
its styles (no restyle of its widgets) unless the theme changed, and the repaint Textual holds during
the switch ends as soon as the data is shown (what it costs is benchmarks/tui_open_bench.py's job)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.color import Color
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode

from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.client import local_client
from agentmarket_tui.screens.agents import AgentsScreen
from agentmarket_tui.screens.tasks import TasksScreen
from agentmarket_tui.widgets.row_table import RowTable
from engine import Market

from .snapshot_app import settle


def post(market: Market, poster: str, title: str) -> str:
    return market.post_task(poster, title=title, budget=1).id


def first_rows(app: AgentMarketApp) -> list[str]:
    return app.screen.query_one("#tasks-table", RowTable).row_keys[:1]


def test_back_to_the_task_list_it_shows_fresh_rows_without_restyling(market: Market, monkeypatch: Any) -> None:
    poster = market.register_agent(name="Poster", capabilities=["writing"], owner_email="p@example.com").agent.id
    market.grant(poster, 100)
    post(market, poster, "old task")
    restyled: list[DOMNode] = []
    update_nodes = Stylesheet.update_nodes

    def counted(self: Stylesheet, nodes: Any, animate: bool = False) -> None:
        nodes = list(nodes)
        restyled.extend(nodes)
        update_nodes(self, nodes, animate=animate)

    monkeypatch.setattr(Stylesheet, "update_nodes", counted)

    async def run() -> None:
        app = AgentMarketApp(local_client(market), live=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("a")
            await settle(pilot)
            assert isinstance(app.screen, AgentsScreen)
            fresh = post(market, poster, "posted while the list was hidden")
            restyled.clear()
            await pilot.press("t")
            await settle(pilot)
            assert isinstance(app.screen, TasksScreen) and first_rows(app) == [fresh]
            assert restyled == []  # Textual's switch restyled the screen's ~40 widgets

    asyncio.run(run())


def test_the_switch_draws_once_the_data_is_shown_not_after_a_fixed_hold(market: Market) -> None:
    poster = market.register_agent(name="Poster", capabilities=["writing"], owner_email="p@example.com").agent.id
    market.grant(poster, 100)
    post(market, poster, "old task")

    async def run() -> None:
        app = AgentMarketApp(local_client(market), live=False)
        frames: list[list[str]] = []  # per frame drawn after the switch: the task list's first row
        display = app._display

        def drawn(screen: Any, update: Any) -> None:
            if update is not None and not app._batch_count:  # a frame that reaches the terminal
                frames.append(first_rows(app) if isinstance(app.screen, TasksScreen) else ["not the list"])
            display(screen, update)

        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("a")
            await settle(pilot)
            fresh = post(market, poster, "posted while the list was hidden")
            app._display = drawn  # type: ignore[method-assign]
            app.delay_update(3600)  # a hold longer than the test: the shown data must end it
            await pilot.press("t")
            for _ in range(100):
                await settle(pilot)
                if frames:
                    break
            assert frames and all(frame == [fresh] for frame in frames)  # never the old rows

    asyncio.run(run())


def test_a_theme_chosen_elsewhere_restyles_the_task_list_on_return(market: Market) -> None:
    async def run() -> None:
        app = AgentMarketApp(local_client(market), live=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            dark = app.screen.query_one("#tasks-table", RowTable).styles.background
            await pilot.press("a")
            await settle(pilot)
            app.theme = "textual-light"
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)
            table = app.screen.query_one("#tasks-table", RowTable)
            assert table.styles.background != dark
            assert table.styles.background == Color.parse(app.current_theme.to_color_system().generate()["surface"])

    asyncio.run(run())
