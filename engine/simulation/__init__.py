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

from .collector import AGENT_MEASURES, MODEL_MEASURES, Collector, Snapshot
from .runner import PARAMETERS, Run, Scenario, run_scenario, run_simulation
from .seeded import SeededIds, SimulatedClock, seeded_market
from .simulator import Simulation
from .strategy import (
    BUILTIN,
    BY_NAME,
    CAPABILITIES,
    AdaptivePricer,
    Flaky,
    Frugal,
    Premium,
    ReputationSeeker,
    SimAgent,
    Strategy,
    TaskIdea,
)
from .summary import Summary, TopAgent, gini, summarize
from .sweep import Sweep, sweep

__all__ = [
    "AGENT_MEASURES",
    "AdaptivePricer",
    "BUILTIN",
    "BY_NAME",
    "CAPABILITIES",
    "Collector",
    "Flaky",
    "Frugal",
    "MODEL_MEASURES",
    "PARAMETERS",
    "Premium",
    "ReputationSeeker",
    "Run",
    "Scenario",
    "SeededIds",
    "SimAgent",
    "SimulatedClock",
    "Simulation",
    "Snapshot",
    "Strategy",
    "Summary",
    "Sweep",
    "TaskIdea",
    "TopAgent",
    "gini",
    "run_scenario",
    "run_simulation",
    "seeded_market",
    "summarize",
    "sweep",
]
