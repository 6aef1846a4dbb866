"""A market with fixed data and an app over it, for snapshot tests and screenshots.

Every id, key, secret and timestamp is deterministic, so the pictures are the same on
every run. ``build_app()`` makes the app each snapshot test runs.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from textual.pilot import Pilot
from textual.widgets import DataTable, TextArea
from textual.worker import WorkerCancelled

from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.client import local_client
from agentmarket_tui.widgets.row_table import RowTable
from engine import Market
from engine.services.outbox import Outcome
from tests.conftest import sequential_ids, sequential_tokens

#: where the identity bar says the market is (the real file differs per process)
LOCATION = "~/agentmarket/market.db"
START = datetime(2026, 3, 13, 9, 0, 0, tzinfo=UTC)
#: the app's clock: what its countdowns count from
APP_NOW = START + timedelta(hours=12)
#: what to do in the app before its picture is taken
Steps = Callable[[Pilot[Any]], Awaitable[None]]


def stepping_clock(step: timedelta = timedelta(minutes=7)) -> Callable[[], datetime]:
    """A clock that moves ``step`` forward on every reading: distinct, stable timestamps."""
    ticks = itertools.count()
    return lambda: START + next(ticks) * step


def market_file() -> Path:
    """This process's snapshot market file (xdist workers must not share one)."""
    return Path(tempfile.gettempdir()) / "agentmarket-snapshots" / f"market-{os.getpid()}.db"


def build_market(path: Path | None = None) -> tuple[Market, str]:
    """A market with a few agents, tasks in every state, transactions, a webhook and deliveries.

    Returns:
        The market and the API key of Quill, the agent the app acts as.
    """
    path = path or market_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    market = Market(path, clock=stepping_clock(), new_id=sequential_ids(), new_token=sequential_tokens())
    quill = market.register_agent(
        name="Quill", capabilities=["writing", "summarize"], owner_email="quill@example.com", price_per_task=15,
        description="Writes **clear** summaries and short reports.\n\n- plain English\n- under 300 words",
        webhook_url="https://hooks.example.com/quill",
    )
    atlas = market.register_agent(
        name="Atlas", capabilities=["research", "summarize"], owner_email="atlas@example.com", price_per_task=40,
        description="Researches a question and answers with *sources*.",
        system_prompt="You are Atlas, a careful researcher.",
    )
    bolt = market.register_agent(
        name="Bolt", capabilities=["code", "review"], owner_email="bolt@example.com", price_per_task=25,
        description="Reviews Python code for bugs and style.",
    )
    market.register_agent(
        name="Mira [bold]", capabilities=["translate"], owner_email="mira@example.com", price_per_task=10,
        description="Translates between English, German and Spanish.",
    )
    q, a, b = quill.agent.id, atlas.agent.id, bolt.agent.id
    market.set_webhook(q, events=["task.posted", "task.assigned", "task.completed", "task.released"])
    market.grant(q, 400)
    # Two direct hires of Atlas, the oldest tasks: one answered, one that failed and was refunded.
    hired = market.hire(q, a, "Find three sources on escrow ledgers.", 40)
    market.finish_hire(hired.id, "1. Fowler, *Patterns of Enterprise Application Architecture*\n"
                                 "2. Kleppmann, *Designing Data-Intensive Applications*\n3. SQLite, *WAL mode*")
    failed = market.hire(q, a, "Summarize the 2025 audit in one page.", 45)
    market.fail_hire(failed.id, "the agent did not answer within 60 s")
    market.post_task(q, title="Summarize the Q1 market report", description="Two paragraphs, please.",
                     budget=25, required_capabilities=["summarize"])
    assigned = market.post_task(q, title="Research sqlite WAL tuning", description="Which pragmas matter?",
                                budget=60, required_capabilities=["research"])
    market.accept_task(assigned.id, a)
    done = market.post_task(q, title="Review the payout module", description="Look for rounding bugs.",
                            budget=50, required_capabilities=["code"])
    market.accept_task(done.id, b)
    market.complete_task(done.id, b, "Two rounding bugs found; see the **patch** below.")
    market.rate_task(done.id, q, 5)
    cancelled = market.post_task(q, title="Translate the README", description="Into German.",
                                 budget=20, required_capabilities=["translate"])
    market.cancel_task(cancelled.id, q)
    released = market.post_task(a, title="Write release notes for 1.2", description="From the changelog.",
                                 budget=30, required_capabilities=["writing"])
    market.accept_task(released.id, q)
    market.release_task(released.id, q)
    earned = market.post_task(b, title="Summarize three review threads", description="Short, with links.",
                              budget=35, required_capabilities=["summarize"])
    market.accept_task(earned.id, q)
    market.complete_task(earned.id, q, "The threads agree on the new API; one open question remains.")
    market.rate_task(earned.id, b, 4)
    # SPEC §10: a result awaiting Quill's review, and a dispute Quill settles as evaluator.
    reviewed = market.post_task(q, title="Draft the onboarding email", description="Friendly, short.",
                                budget=30, required_capabilities=["code"], review_hours=48)
    market.accept_task(reviewed.id, b)
    market.complete_task(reviewed.id, b, "Hi! Welcome aboard. Here is how to start…")
    disputed = market.post_task(a, title="Benchmark the ledger", description="Transfers per second.",
                                budget=40, required_capabilities=["code"], review_hours=24, evaluator_id=q)
    market.accept_task(disputed.id, b)
    market.complete_task(disputed.id, b, "About 2,000.")
    market.reject_task(disputed.id, a, "No method, no machine, no error bars.")
    _settle_deliveries(market)
    return market, quill.api_key


def _settle_deliveries(market: Market) -> None:
    """Give the queued webhook deliveries a mix of outcomes, as a worker would have."""
    outbox = market.outbox
    far_future = 1e10
    outbox.take_lease("snapshots", far_future, far_future + 60)
    outcomes = [Outcome(200, 12.0), Outcome(500, 30.0), Outcome(None, 5000.0, "timed out after 5 s"), Outcome(204, 9.0)]
    for number in itertools.count():
        claims = outbox.claim("snapshots", far_future, 1, far_future + 30, ())
        if not claims or number > 6:
            break
        outcome = outcomes[number % len(outcomes)]
        if outcome.ok:
            outbox.delivered(claims[0], outcome)
        else:
            outbox.give_up(claims[0], outcome)


def build_app() -> AgentMarketApp:
    """The app over a freshly built snapshot market, acting as Quill, not polling."""
    market, key = build_market()
    client = local_client(market, key)
    client.location = LOCATION
    return AgentMarketApp(client, live=False, clock=lambda: APP_NOW)


# -- getting the app to a screen --------------------------------------------------------
async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every background load has finished and its data is on screen."""
    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a newer load replaced it; the loop waits for that one too
        for field in pilot.app.screen.query("Input, TextArea"):
            field.cursor_blink = False  # type: ignore[attr-defined]  # a blinking cursor makes pictures differ
        await pilot.pause()


def keys(*pressed: str) -> Steps:
    """Press keys as shortcuts (no field has focus to type them into), waiting for data after each."""

    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in pressed:
            pilot.app.screen.set_focus(None)
            await pilot.press(key)
            await settle(pilot)

    return run


def open_row(mode_key: str, row: int) -> Steps:
    """Switch to a screen, put its table's cursor on ``row`` and press Enter."""

    async def run(pilot: Pilot[Any]) -> None:
        await keys(mode_key)(pilot)
        table = cast("DataTable[Any] | RowTable", pilot.app.screen.query_one("DataTable, RowTable"))
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)

    return run


def hire_dialog(budget: str, *, confirm: bool = False) -> Steps:
    """Open Atlas's hire dialog, describe a job, set ``budget`` and (with ``confirm``) press Hire."""

    async def run(pilot: Pilot[Any]) -> None:
        await open_row("a", 2)(pilot)
        await pilot.press("h")
        await settle(pilot)
        pilot.app.screen.query_one(TextArea).text = "Find three sources on SQLite WAL checkpoints."
        pilot.app.screen.query_one("#hire-budget").value = budget
        if confirm:
            await pilot.click("#hire-confirm")
        await settle(pilot)

    return run
