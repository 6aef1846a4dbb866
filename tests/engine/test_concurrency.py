"""Threads racing on one market file: one accept wins, posts never overdraw."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine import Market, MarketError
from tests.support.server import as_db

from .conftest import register


def race(calls: list[Callable[[], Any]]) -> Counter[str]:
    """Run every call in its own thread, all released at once; count outcomes ("ok" or an error code)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def contender(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            call()
            outcome = "ok"
        except MarketError as error:
            outcome = error.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=contender, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == len(calls), "a contender hung"
    return Counter(outcomes)


@contextmanager
def markets(path: Path, count: int, shared: bool) -> Iterator[list[Market]]:
    """``count`` handles on the market file: one shared Market, or a Market per thread."""
    opened = [Market(path)] if shared else [Market(path) for _ in range(count)]
    try:
        yield [opened[0]] * count if shared else opened
    finally:
        for market in opened:
            market.close()


@pytest.mark.parametrize("shared", [True, False], ids=["one-market", "market-per-thread"])
def test_twenty_threads_accept_one_task_and_exactly_one_wins(market: Market, shared: bool) -> None:
    poster = register(market, "Poster")
    workers = [register(market, f"Worker{n}") for n in range(20)]
    task_id = market.post_task(poster, title="Contested", budget=50, required_capabilities=["research"]).id
    with markets(as_db(market.path), 20, shared) as handles:
        outcomes = race([lambda m=m, w=w: m.accept_task(task_id, w) for m, w in zip(handles, workers, strict=True)])
    assert outcomes == Counter({"ok": 1, "invalid_state": 19})
    task = market.get_task(task_id)
    assert task.status == "assigned" and task.assigned_to in workers
    assert len([e for e in market.task_timeline(task_id) if e.type == "task.assigned"]) == 1
    assert market.verify_ledger().ok


@pytest.mark.parametrize("shared", [True, False], ids=["one-market", "market-per-thread"])
def test_thirty_posts_of_ten_from_a_hundred_never_overdraw(market: Market, shared: bool) -> None:
    poster = register(market, "Poster")
    with markets(as_db(market.path), 30, shared) as handles:
        outcomes = race([lambda m=m: m.post_task(poster, title="Ten", budget=10) for m in handles])
    assert outcomes == Counter({"ok": 10, "insufficient_credits": 20})
    assert market.balance(poster) == 0
    assert market.count_tasks(poster_id=poster) == 10
    assert market.stats().credits_in_escrow == 100
    assert market.verify_ledger().ok
