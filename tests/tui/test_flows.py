"""The main flows of the app, driven by keys: register, post, switch agent, accept, complete, rate."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.client import local_client
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
    app = AgentMarketApp(local_client(market), live=False)
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


def test_register_with_every_field_shows_the_webhook_secret_once(market: Market) -> None:
    asyncio.run(register_with_every_field(market))


async def register_with_every_field(market: Market) -> None:
    from textual.widgets import Static

    app = AgentMarketApp(local_client(market), live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        await type_text(pilot, "Scribe")
        await pilot.press("tab")
        await type_text(pilot, "writing")
        await pilot.press("tab")
        await type_text(pilot, "scribe@example.com")
        await pilot.press("tab", "tab")  # price stays 10
        await type_text(pilot, "Short poems on request")
        await pilot.press("tab")
        await type_text(pilot, "https://scribe.example.com/run")
        await pilot.press("tab", "tab")  # no system prompt
        await type_text(pilot, "http://scribe.example.com/hook")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert market.count_agents() == 0  # webhooks must be https: refused, with the reason under the field
        assert "https" in str(app.screen.query_one("#reg-webhook .field-error", Static).render())

        await pilot.press("home", "right", "right", "right", "right")
        await type_text(pilot, "s")
        await pilot.press("ctrl+s")
        await settle(pilot)
        (agent,) = market.list_agents()
        assert (agent.name, agent.description, agent.price_per_task) == ("Scribe", "Short poems on request", 10)
        assert agent.endpoint_url == "https://scribe.example.com/run" and agent.system_prompt is None
        assert agent.webhook_url == "https://scribe.example.com/hook"
        shown = str(app.screen.query_one("#identity-secret", Static).render())
        assert market.webhook_secret(agent.id) in shown
        assert app.identity == ("Scribe", 100)


def test_switch_to_a_remembered_agent_from_the_list(market: Market) -> None:
    asyncio.run(switch_to_a_remembered_agent(market))


async def switch_to_a_remembered_agent(market: Market) -> None:
    from agentmarket_tui.config import RememberedAgent
    from textual.widgets import OptionList

    keys = KeyStore()
    for name in ("Ada", "Bo"):
        registration = market.register_agent(name=name, capabilities=["writing"], owner_email=f"{name}@example.com")
        keys.remember(market.path, RememberedAgent(name, registration.agent.id, registration.api_key))
    market.grant(market.list_agents(search="Ada")[0].id, 5)

    app = AgentMarketApp(local_client(market), live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        options = app.screen.query_one("#identity-agents", OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == [
            "nobody (just browse)", "Bo", "Ada"]  # the most recently used first
        options.focus()
        await pilot.press("down", "down", "down", "enter")
        await settle(pilot)
        assert app.identity == ("Ada", 105)
        assert keys.last_used(market.path).name == "Ada"

        await pilot.press("i")
        await settle(pilot)
        app.screen.query_one("#identity-agents", OptionList).focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.identity == (None, None)


def test_paging_keys_move_through_the_task_list(market: Market) -> None:
    asyncio.run(page_through_tasks(market))


async def page_through_tasks(market: Market) -> None:
    from textual.widgets import Label

    poster = market.register_agent(name="Poster", capabilities=["writing"], owner_email="p@example.com").agent.id
    market.grant(poster, 1000)
    for number in range(55):
        market.post_task(poster, title=f"Task {number}", budget=1)
    app = AgentMarketApp(local_client(market), live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)

        def summary() -> str:
            return str(app.screen.query_one("#tasks-page", Label).render())

        assert summary().startswith("1–50 of 55")
        app.screen.set_focus(None)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert summary().startswith("51–55 of 55")
        await pilot.press("pagedown")  # past the end: stays
        await settle(pilot)
        assert summary().startswith("51–55 of 55")
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert summary().startswith("1–50 of 55")


def test_enter_in_the_search_applies_it_without_waiting_for_a_pause(market: Market,
                                                                  monkeypatch: Any) -> None:
    from agentmarket_tui.screens import tasks

    monkeypatch.setattr(tasks, "SEARCH_DELAY_SECONDS", 3600)  # the typing pause never ends during the test
    asyncio.run(search_with_enter(market))


async def search_with_enter(market: Market) -> None:
    from textual.widgets import Label

    poster = market.register_agent(name="Poster", capabilities=["writing"], owner_email="p@example.com").agent.id
    market.grant(poster, 1000)
    for title in ("A parser", "A report", "Another parser"):
        market.post_task(poster, title=title, budget=1)
    app = AgentMarketApp(local_client(market), live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#task-search", Input).focus()
        await type_text(pilot, "parser")
        await pilot.press("enter")
        for _ in range(200):
            await settle(pilot)
            if str(app.screen.query_one("#tasks-page", Label).render()).startswith("1–2 of 2"):
                break
        assert str(app.screen.query_one("#tasks-page", Label).render()).startswith("1–2 of 2")


def test_register_on_an_invite_only_market(market: Market) -> None:
    asyncio.run(register_with_an_invite(market))


async def register_with_an_invite(market: Market) -> None:
    market.configure(registration_requires_invite=True)
    (code,) = market.create_invites(1)
    app = AgentMarketApp(local_client(market), live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        invite = app.screen.query_one("#reg-invite")
        assert invite.display  # the market said it needs one
        await type_text(pilot, "guest")
        await pilot.press("tab")
        await type_text(pilot, "writing")
        await pilot.press("tab")
        await type_text(pilot, "guest@example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert market.count_agents() == 0  # refused: invite_required

        invite.query_one(Input).focus()
        await type_text(pilot, code)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.identity == ("guest", 100)
        assert market.invites()[0].used_by is not None


def test_the_invite_field_stays_hidden_on_an_open_market(market: Market) -> None:
    asyncio.run(invite_field_hidden(market))


async def invite_field_hidden(market: Market) -> None:
    app = AgentMarketApp(local_client(market), live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert not app.screen.query_one("#reg-invite").display


def test_the_wallet_shows_an_operators_reason(market: Market) -> None:
    asyncio.run(wallet_shows_reason(market))


async def wallet_shows_reason(market: Market) -> None:
    from textual.widgets import DataTable

    registration = market.register_agent(name="Topped", capabilities=["writing"], owner_email="t@example.com")
    market.grant(registration.agent.id, 30, "outage refund")
    app = AgentMarketApp(local_client(market, registration.api_key), live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        table = app.screen.query_one("#wallet-table", DataTable)
        assert "outage refund" in str(table.get_row_at(0)[-1])
