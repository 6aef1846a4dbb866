"""The public simulation API: repeatable runs, custom strategies, a sound ledger."""

from __future__ import annotations

import random

import pytest

from engine import Task
from engine.simulation import (
    SimAgent,
    SimulatedClock,
    Simulation,
    Strategy,
    gini,
    run_simulation,
    seeded_market,
    summarize,
)


def test_the_same_seed_gives_the_same_summary() -> None:
    first = run_simulation(20, 300, seed=11)
    second = run_simulation(20, 300, seed=11)
    assert first.lines() == second.lines()
    assert first.to_dict() | {"seconds": 0, "lifecycles_per_second": 0} == \
        second.to_dict() | {"seconds": 0, "lifecycles_per_second": 0}
    assert run_simulation(20, 300, seed=12).lines() != first.lines()


def test_a_run_posts_every_task_and_keeps_the_ledger_sound() -> None:
    summary = run_simulation(15, 400, seed=2)
    assert summary.ledger_ok
    assert summary.counts["posted"] == 400 == sum(summary.tasks_by_status.values())
    assert summary.lifecycles == summary.tasks_by_status["completed"] > 0
    assert summary.credits_issued == summary.credits_in_wallets + summary.credits_in_escrow + summary.fees_collected
    assert 0 <= summary.gini < 1
    assert len(summary.top_agents) == 5
    reputations = [a.reputation for a in summary.top_agents]
    assert reputations == sorted(reputations, reverse=True)


def test_seeded_markets_repeat_ids_keys_and_times() -> None:
    def register() -> tuple[str, str, str]:
        market = seeded_market(":memory:", seed=5)
        reg = market.register_agent(name="A", capabilities=["x"], owner_email="a@example.com")
        return reg.agent.id, reg.api_key, reg.agent.created_at

    assert register() == register()


class Perfectionist(Strategy):
    """Accepts everything, always delivers, always rates 5."""

    name = "perfectionist"

    def accepts(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        return True

    def work(self, me: SimAgent, task: Task, rng: random.Random) -> str | None:
        return "perfect"

    def rate(self, me: SimAgent, task: Task, worker: SimAgent, rng: random.Random) -> int | None:
        return 5


class Refuser(Strategy):
    """Never takes work and never withdraws its own."""

    name = "refuser"

    def accepts(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        return False

    def cancels(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        return False


def test_custom_strategies_steer_the_market() -> None:
    good = run_simulation(10, 200, seed=3, strategies=[Perfectionist])
    assert good.counts.get("released", 0) == 0
    assert all(a.reputation == 5.0 for a in good.top_agents if a.reputation is not None)

    idle = run_simulation(10, 100, seed=3, strategies=[Refuser])
    assert idle.lifecycles == 0
    assert idle.credits_in_escrow > 0  # tasks wait, escrowed, in the backlog ...
    assert idle.counts["cancelled"] > 0  # ... which stays bounded by withdrawing the oldest
    assert idle.ledger_ok


def test_a_simulation_on_an_existing_market_and_its_clock() -> None:
    clock = SimulatedClock()
    market = seeded_market(":memory:", seed=9, clock=clock)
    start = clock()
    simulation = Simulation.populate(market, 6, random.Random(9), clock=clock)
    simulation.run(tasks=30)
    assert clock() > start
    summary = summarize(market, [a.id for a in simulation.agents], simulation.counts)
    assert summary.ledger_ok and summary.agents == 6


def test_a_simulation_needs_agents() -> None:
    with pytest.raises(ValueError):
        Simulation(seeded_market(":memory:", seed=1), [], random.Random(1))


@pytest.mark.parametrize(("values", "expected"), [
    ([], 0.0), ([0, 0], 0.0), ([5, 5, 5, 5], 0.0), ([0, 0, 0, 10], 0.75), ([1, 2, 3, 4], 0.25),
])
def test_gini(values: list[int], expected: float) -> None:
    assert gini(values) == pytest.approx(expected)
