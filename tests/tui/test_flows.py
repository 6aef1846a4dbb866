"""The main flows of the app, driven by keys: register, post, switch agent, accept, complete, rate."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot

from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.backend import LocalBackend
from agentmarket_tui.config import KeyStore
from agentmarket_tui.screens.task_detail import TaskDetailScreen
from engine import Market

from .snapshot_app import settle


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*[("space" if c == " " else c) for c in text])


async def register(pilot: Pilot[Any], name: str) -> None:
    """Open the identity dialog, fill in the registration form and register; close the dialog."""
    await pilot.press("i")
    await settle(pilot)
    await type_text(pilot, name)
    await pilot.press("tab")
    await type_text(pilot, "writing")
    await pilot.press("tab")
    await type_text(pilot, f"{name}@example.com")
    await pilot.press("ctrl+s")
    await settle(pilot)
    await pilot.press("escape")
    await settle(pilot)


async def switch_by_key(pilot: Pilot[Any], api_key: str) -> None:
    """Open the identity dialog and paste ``api_key`` into its import field."""
    await pilot.press("i")
    await settle(pilot)
    await pilot.press("shift+tab")
    await type_text(pilot, api_key)
    await pilot.press("enter")
    await settle(pilot)


def test_register_post_accept_complete_rate(market: Market) -> None:
    asyncio.run(register_post_accept_complete_rate(market))


async def register_post_accept_complete_rate(market: Market) -> None:
    app = AgentMarketApp(LocalBackend(market), live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await register(pilot, "poster")
        assert app.identity == ("poster", 100)
        poster_key = KeyStore().last_used(market.path)
        assert poster_key is not None and poster_key.name == "poster"

        await pilot.press("n")
        await settle(pilot)
        await type_text(pilot, "Write a haiku")
        await pilot.press("tab")
        await type_text(pilot, "About sqlite.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TaskDetailScreen)
        assert app.identity == ("poster", 75)
        task_id = app.screen.task_id

        await register(pilot, "worker")
        assert app.identity == ("worker", 100)
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert market.get_task(task_id).status == "assigned"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await type_text(pilot, "Pages in a row")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert market.get_task(task_id).status == "completed"
        assert app.identity == ("worker", 122)

        await switch_by_key(pilot, poster_key.api_key)
        assert app.identity == ("poster", 75)
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        task = market.get_task(task_id)
        assert task.rating == 4
        assert market.get_agent(task.assigned_to).reputation_score == 4.0
