"""The demo as `agentmarket demo` runs it: the app over a demo market whose agents keep trading."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from textual.widgets import RichLog

from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.client import local_client
from engine import Market
from engine.simulation.demo import LiveMarket, LiveMarketThread, open_demo

from .snapshot_app import settle

WAIT_SECONDS = 10.0


def test_the_demo_agents_trade_and_the_open_app_follows(market_path: Path) -> None:
    """The pieces `agentmarket demo` wires together (its click wrapper is tested headless)."""

    async def run() -> tuple[int, int, int]:
        with Market(market_path) as market:
            opened = open_demo(market, 7)
            thread = LiveMarketThread(LiveMarket(market, opened.agents, random.Random(8)), interval=0.05)
            app = AgentMarketApp(local_client(market, opened.you_key))
            async with app.run_test(size=(120, 40)) as pilot:
                await settle(pilot)
                await pilot.press("v")  # the activity feed
                await settle(pilot)
                log = app.screen.query_one("#activity-log", RichLog)
                lines_before, events_before = len(log.lines), len(market.recent_events(500))
                thread.start()
                try:
                    for _ in range(int(WAIT_SECONDS / 0.1)):
                        await pilot.pause(0.1)
                        if len(log.lines) >= lines_before + 5:
                            break
                finally:
                    thread.stop()
                    thread.join(timeout=5)
                assert app.identity[0] == "Quill"
                assert market.verify_ledger().ok
                return lines_before, len(log.lines), len(market.recent_events(500)) - events_before

    before, after, new_events = asyncio.run(run())
    assert new_events >= 5
    assert after >= before + 5  # the feed showed the agents' work without a key pressed
