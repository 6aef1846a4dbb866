"""The task screen offers approve, reject and resolve only to whoever may take them (engine/states.py)."""

from __future__ import annotations

from engine import Market
from engine.states import Action
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
