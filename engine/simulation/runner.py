"""One call that runs a whole seeded simulation and sums it up (what ``agentmarket simulate`` does)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .collector import Collector
from .seeded import SimulatedClock, seeded_market
from .simulator import Simulation
from .strategy import BUILTIN, Flaky, Strategy
from .summary import Summary, summarize


@dataclass(frozen=True, slots=True)
class Parameter:
    """A scenario parameter a sweep may vary: its type, bounds and meaning."""

    name: str
    kind: type
    low: float
    high: float
    help: str

    def parse(self, text: str) -> int | float:
        """``text`` as this parameter's value.

        Raises:
            ValueError: not a number of the right kind, or out of bounds (the message names the parameter).
        """
        try:
            value = self.kind(text)
        except ValueError:
            raise ValueError(f"{self.name} must be {'an integer' if self.kind is int else 'a number'}, "
                             f"not {text!r}") from None
        return self.check(value)

    def check(self, value: Any) -> int | float:
        """``value`` if it is within bounds. Raises ValueError naming the parameter."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) or not self.low <= value <= self.high:
            raise ValueError(f"{self.name} must be from {self.low:g} to {self.high:g}, not {value!r}")
        return value


#: What a scenario (and so a sweep) can vary, with bounds.
PARAMETERS: dict[str, Parameter] = {p.name: p for p in (
    Parameter("agents", int, 1, 100_000, "how many simulated agents"),
    Parameter("tasks", int, 1, 10_000_000, "how many tasks they post in all"),
    Parameter("fee_percent", int, 0, 100, "the platform's share of each completed task's budget"),
    Parameter("flaky_share", float, 0, 1, "the share of agents with the flaky strategy (default: drawn)"),
    Parameter("registration_grant", int, 0, 1_000_000, "credits each new agent receives"),
)}


@dataclass(frozen=True, slots=True)
class Scenario:
    """The parameters of one run; every field but ``seed`` is in :data:`PARAMETERS`.

    Raises:
        ValueError: a value out of bounds (naming the parameter).
    """

    agents: int = 50
    tasks: int = 1000
    fee_percent: int = 10
    flaky_share: float | None = None
    registration_grant: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in PARAMETERS and value is not None:
                object.__setattr__(self, f.name, PARAMETERS[f.name].check(value))

    def params(self) -> dict[str, Any]:
        """The parameters as a dict (seed included), in field order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class Run:
    """A finished run: its scenario, its summary and the series its collector kept."""

    scenario: Scenario
    summary: Summary
    collector: Collector | None


def strategy_mix(count: int, flaky_share: float, rng: random.Random,
                 others: Sequence[type[Strategy] | Strategy] = BUILTIN) -> list[type[Strategy] | Strategy]:
    """Strategies for ``count`` agents: ``round(count * flaky_share)`` flaky ones, the rest drawn from ``others``."""
    pool = [s for s in others if s is not Flaky and not isinstance(s, Flaky)] or [Strategy]
    flaky = round(count * flaky_share)
    mix: list[type[Strategy] | Strategy] = [Flaky] * flaky + [rng.choice(pool) for _ in range(count - flaky)]
    rng.shuffle(mix)
    return mix


def run_scenario(
    scenario: Scenario,
    *,
    path: str | Path = ":memory:",
    strategies: Sequence[type[Strategy] | Strategy] = BUILTIN,
    collector: Collector | None = None,
    on_step: Callable[[int], None] | None = None,
) -> Run:
    """Run ``scenario`` in a fresh seeded market and sum it up.

    Args:
        path: the market file to fill (it should be new), ``":memory:"`` by default.
        strategies: what agents' behaviours are drawn from.
        collector: samples series along the run (none are kept without one).
        on_step: progress callback, called with the number of tasks posted so far.

    Returns:
        The run, with the ledger verified and the run's duration in its summary.
    """
    clock = SimulatedClock()
    market = seeded_market(path, scenario.seed, clock)
    try:
        market.configure(fee_percent=scenario.fee_percent, registration_grant=scenario.registration_grant)
        rng = random.Random(scenario.seed)
        per_agent = None if scenario.flaky_share is None else \
            strategy_mix(scenario.agents, scenario.flaky_share, rng, strategies)
        simulation = Simulation.populate(market, scenario.agents, rng, strategies=strategies, clock=clock,
                                         per_agent=per_agent, collector=collector)
        started = time.perf_counter()
        simulation.run(scenario.tasks, on_step)
        seconds = time.perf_counter() - started
        summary = summarize(market, [a.id for a in simulation.agents], simulation.counts, seconds)
        return Run(scenario, summary, collector)
    finally:
        market.close()


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
    scenario = Scenario(agents=agents, tasks=tasks, seed=seed)
    return run_scenario(scenario, path=path, strategies=strategies, on_step=on_step).summary
