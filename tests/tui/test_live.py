"""The app stays live: changes from another process appear unasked; it also works over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.client import MarketClient, local_client
from agentmarket_tui.widgets.row_table import RowTable
from engine import Market
from tests.support.server import RunningServer, api_server  # noqa: F401  (a fixture)

from .snapshot_app import settle
from .test_flows import type_text

POLL_WAIT_SECONDS = 3.0


def register(market: Market, name: str) -> tuple[str, str]:
    """Register ``name`` directly in ``market``; returns its id and API key."""
    registration = market.register_agent(name=name, capabilities=["writing"], owner_email=f"{name}@example.com",
                                          price_per_task=10)
    return registration.agent.id, registration.api_key


async def task_rows(pilot: Pilot[Any], count: int) -> set[str]:
    """The task table's row keys, once it has ``count`` rows (or after the wait runs out)."""
    table = pilot.app.screen.query_one("#tasks-table", RowTable)
    for _ in range(int(POLL_WAIT_SECONDS / 0.1)):
        if table.row_count >= count:
            break
        await pilot.pause(0.1)
    return set(table.row_keys)


def test_a_task_posted_by_another_process_appears_without_input(market_path: Path) -> None:
    async def run() -> set[str]:
        with Market(market_path) as shown, Market(market_path) as other:
            app = AgentMarketApp(local_client(shown), live=True)
            async with app.run_test(size=(100, 40)) as pilot:
                await settle(pilot)
                await pilot.pause(0.6)  # the first poll has taken the market's change token
                poster_id, _ = register(other, "elsewhere")
                task = other.post_task(poster_id, title="Posted elsewhere", description="", budget=5,
                                       required_capabilities=[])
                return {task.id} & await task_rows(pilot, 1)

    assert len(asyncio.run(run())) == 1


def test_over_http_the_app_lists_tasks_and_posts_one(api_server: RunningServer) -> None:
    poster_id, key = register(api_server.market, "remote")
    existing = api_server.market.post_task(poster_id, title="Already here", description="", budget=5,
                                           required_capabilities=[])

    async def run() -> set[str]:
        app = AgentMarketApp(MarketClient(api_server.url, key), live=False)
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            assert existing.id in await task_rows(pilot, 1)
            await pilot.press("n")
            await settle(pilot)
            await type_text(pilot, "Posted over HTTP")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.identity == ("remote", 100 - 5 - 25)
            app.client.close()
            return {task.title for task in api_server.market.list_tasks(limit=10)}

    assert "Posted over HTTP" in asyncio.run(run())


def test_over_http_the_app_follows_the_live_stream(api_server: RunningServer) -> None:
    poster_id, key = register(api_server.market, "streamed")

    async def run() -> tuple[set[str], str]:
        app = AgentMarketApp(MarketClient(api_server.url, key), live=True)
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            for _ in range(50):  # the first poll opens the stream
                if app._feed is not None and api_server.server.dispatcher.live.open_streams:
                    break
                await pilot.pause(0.1)
            task = api_server.market.post_task(poster_id, title="Seen on the stream", description="", budget=5,
                                               required_capabilities=[])
            rows = {task.id} & await task_rows(pilot, 1)
            assert app._feed is not None and app._feed.available and app._feed.seq >= 1
            app.client.close()
            return rows, task.id

    rows, task_id = asyncio.run(run())
    assert rows == {task_id}


def test_the_live_feed_gives_way_to_polling_on_a_server_without_the_stream() -> None:
    from agentmarket_tui.live import LiveFeed
    from tests.outbound.servers import LoopbackServer, Reply, wait_until

    missing = Reply.json({"success": False, "error": {"code": "not_found", "message": "no route"}}, status=404)
    with LoopbackServer(lambda _: missing) as old_server, MarketClient(old_server.url) as client:
        feed = LiveFeed(client, 0).start()
        wait_until(lambda: not feed.available)
        feed.stop()
