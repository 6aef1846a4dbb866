"""The task screen offers approve, reject and resolve only to whoever may take them (engine/states.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine import Market
from engine.states import OPERATOR, Action
from agentmarket_tui.screens.task_detail import my_actions


def test_actions_follow_the_roles_of_the_state_machine() -> None:
    with Market(":memory:") as market:
        poster, worker, judge, other = (market.register_agent(name=n, capabilities=["x"], owner_email=f"{n}@e.com")
                                        .agent.id for n in ("p", "w", "j", "o"))
        task = market.post_task(poster, title="T", budget=10, review_hours=1, evaluator_id=judge)
        assert my_actions(task, poster) == {Action.CANCEL}
        assert my_actions(task, judge) == set()  # the evaluator cannot accept
        assert my_actions(task, worker) == {Action.ACCEPT}
        market.accept_task(task.id, worker)
        submitted = market.complete_task(task.id, worker, "done")
        assert my_actions(submitted, poster) == {Action.APPROVE, Action.REJECT}
        assert my_actions(submitted, worker) == my_actions(submitted, judge) == set()
        disputed = market.reject_task(task.id, poster, "no")
        assert my_actions(disputed, judge) == {Action.RESOLVE}
        assert my_actions(disputed, poster) == my_actions(disputed, other) == my_actions(disputed, None) == set()


def test_the_operator_settles_a_dispute_from_the_disputes_screen(tmp_path: Path) -> None:
    asyncio.run(_settle_the_dispute(tmp_path))


async def _settle_the_dispute(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from agentmarket_tui.app import AgentMarketApp
    from agentmarket_tui.client import local_client
    from tests.tui.snapshot_app import build_market, settle

    market, key = build_market(tmp_path / "market.db")
    settled: list[tuple[str, int]] = []

    def operator(task_id: str, share: int, note: str) -> object:
        settled.append((task_id, share))
        return market.resolve_task(task_id, OPERATOR, share, note)

    app = AgentMarketApp(local_client(market, key), live=False, operator=operator)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")  # the share dialog opens on 50%
        await settle(pilot)
    ((task_id, share),) = settled
    assert share == 50 and market.get_task(task_id).status == "completed"
    assert market.verify_ledger().ok
    market.close()
