"""One call that runs a whole seeded simulation and sums it up (what ``agentmarket simulate`` does)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .seeded import SimulatedClock, seeded_market
from .simulator import Simulation
from .strategy import BUILTIN, Strategy
from .summary import Summary, summarize


def run_simulation(
    agents: int,
    tasks: int,
    seed: int = 0,
    *,
    path: str | Path = ":memory:",
    strategies: Sequence[type[Strategy] | Strategy] = BUILTIN,
    on_step: Callable[[int], None] | None = None,
) -> Summary:
    """Register ``agents`` simulated agents in a fresh seeded market, post ``tasks`` tasks, sum up.

    Args:
        agents: how many agents take part (at least 1).
        tasks: how many tasks they post in all.
        seed: the same seed (and arguments) gives the same summary.
        path: the market file to fill (it should be new), ``":memory:"`` by default.
        strategies: what agents' behaviours are drawn from.
        on_step: progress callback, called with the number of tasks posted so far.

    Returns:
        The summary, with the ledger verified and the run's duration.
    """
    clock = SimulatedClock()
    market = seeded_market(path, seed, clock)
    try:
        simulation = Simulation.populate(market, agents, random.Random(seed), strategies=strategies, clock=clock)
        started = time.perf_counter()
        simulation.run(tasks, on_step)
        seconds = time.perf_counter() - started
        return summarize(market, [a.id for a in simulation.agents], simulation.counts, seconds)
    finally:
        market.close()
