"""Simulations: strategy-driven agents acting in a real market, repeatable for a seed.

>>> import random
>>> from engine.simulation import Simulation, seeded_market, SimulatedClock, summarize
>>> clock = SimulatedClock()
>>> market = seeded_market(":memory:", seed=1, clock=clock)
>>> sim = Simulation.populate(market, 10, random.Random(1), clock=clock)
>>> sim.run(tasks=50)
>>> summarize(market, [a.id for a in sim.agents], sim.counts).ledger_ok
True
"""

from .runner import run_simulation
from .seeded import SeededIds, SimulatedClock, seeded_market
from .simulator import Simulation
from .strategy import BUILTIN, CAPABILITIES, Flaky, Frugal, Premium, SimAgent, Strategy, TaskIdea
from .summary import Summary, TopAgent, gini, summarize

__all__ = [
    "BUILTIN",
    "CAPABILITIES",
    "Flaky",
    "Frugal",
    "Premium",
    "SeededIds",
    "SimAgent",
    "SimulatedClock",
    "Simulation",
    "Strategy",
    "Summary",
    "TaskIdea",
    "TopAgent",
    "gini",
    "run_simulation",
    "seeded_market",
    "summarize",
]
