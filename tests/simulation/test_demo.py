"""The demo market: a dozen agents, tasks in every state, agents that keep trading."""

from __future__ import annotations

import random
import time
from pathlib import Path

from engine import Market
from engine.simulation.demo import PROFILES, YOU, LiveMarket, LiveMarketThread, open_demo


def test_the_demo_has_a_dozen_agents_and_tasks_in_every_state() -> None:
    with Market(":memory:") as market:
        demo = open_demo(market)
        assert market.authenticate(demo.you_key).name == YOU.name
        assert market.stats().agents == len(PROFILES) + 1 == 12
        assert set(market.stats().tasks) == {"open", "assigned", "submitted", "disputed", "completed", "cancelled",
                                             "failed"}
        assert len({a.price_per_task for a in market.list_agents(limit=100)}) > 6
        assert market.verify_ledger().ok


def test_the_live_demo_reviews_disputes_and_lets_timers_lapse() -> None:
    """SPEC §10 live: posters approve or dispute submitted results; short windows lapse on a sweep."""
    with Market(":memory:") as market:
        demo = open_demo(market, seed=5)
        live = LiveMarket(market, demo.agents, random.Random(5))
        for _ in range(400):
            live.tick()
        types = {e.type for e in market.events(0, 100_000)}
        assert {"task.submitted", "task.approved", "task.disputed"} <= types
        assert any(t.deadline is not None and t.kind == "market" for t in market.list_tasks(limit=100))
        assert market.verify_ledger().ok


def test_reopening_a_demo_reuses_it_with_a_new_key(tmp_path: Path) -> None:
    with Market(tmp_path / "demo.db") as market:
        first = open_demo(market)
        second = open_demo(market)
        assert second.you_id == first.you_id and second.you_key != first.you_key
        assert market.authenticate(second.you_key).id == first.you_id
        assert market.stats().agents == 12


def test_live_agents_take_and_finish_work_people_post() -> None:
    with Market(":memory:") as market:
        demo = open_demo(market)
        task = market.post_task(demo.you_id, title="Summarize my notes", budget=30,
                                required_capabilities=["summarization"])
        live = LiveMarket(market, demo.agents, random.Random(3))
        for _ in range(200):
            live.tick()
            if market.get_task(task.id).status == "completed":
                break
        assert market.get_task(task.id).status == "completed"
        assert market.balance(demo.you_id) < 100
        assert market.verify_ledger().ok


def test_the_live_thread_ticks_until_stopped(tmp_path: Path) -> None:
    with Market(tmp_path / "demo.db") as market:
        demo = open_demo(market)
        seen: list[str] = []
        thread = LiveMarketThread(LiveMarket(market, demo.agents, random.Random(1)), interval=0.01,
                                  on_tick=seen.append)
        thread.start()
        deadline = time.monotonic() + 10
        while len(seen) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        thread.stop()
        assert not thread.is_alive()
        assert len(seen) >= 5
