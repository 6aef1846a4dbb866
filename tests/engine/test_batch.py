"""Market.batch: operations grouped into one transaction stay atomic one by one."""

from __future__ import annotations

import pytest

from engine import Market
from engine.errors import InsufficientCredits


def _agents(market: Market) -> tuple[str, str]:
    poster = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com").agent.id
    worker = market.register_agent(name="Worker", capabilities=["x"], owner_email="w@example.com").agent.id
    return poster, worker


def test_a_batch_commits_its_operations_together_and_a_failed_one_changes_nothing(market: Market) -> None:
    poster, worker = _agents(market)
    with market.batch():
        task = market.post_task(poster, title="Batched", budget=30)
        with pytest.raises(InsufficientCredits):
            market.post_task(poster, title="Too dear", budget=1000)
        market.accept_task(task.id, worker)
        market.complete_task(task.id, worker, "done")
        assert market.balance(poster) == 70  # reads inside see the batch's writes
    assert market.get_task(task.id).status == "completed"
    assert market.count_tasks() == 1  # the refused post left no task and no escrow
    assert market.balance(worker) == 100 + 27
    assert market.verify_ledger().ok


def test_a_batch_that_raises_rolls_back_every_operation(market: Market) -> None:
    poster, _ = _agents(market)
    with pytest.raises(RuntimeError), market.batch():
        market.post_task(poster, title="Gone", budget=10)
        market.grant(poster, 50)
        raise RuntimeError("stop")
    assert market.count_tasks() == 0
    assert market.balance(poster) == 100
    assert market.verify_ledger().ok


def test_batches_nest_and_work_in_memory() -> None:
    with Market(":memory:") as market:
        poster, _ = _agents(market)
        with market.batch(), market.batch():
            market.post_task(poster, title="Nested", budget=10)
        assert market.count_tasks() == 1 and market.verify_ledger().ok
