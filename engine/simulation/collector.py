"""Series over a run: model-level and agent-level measures sampled every N steps.

The researcher's counterpart of Mesa's ``DataCollector``, read from the market's own
ledger. Measures are plain functions, so adding one is a dict entry::

    collector = Collector(every=20, model={"backlog": lambda sim: len(sim.backlog)})

The same seed gives the same rows, and :mod:`engine.simulation.tables` writes them
byte-identically (CSV, JSON lines; Parquet and pandas with the ``sim`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import Agent
from . import tables
from .summary import gini

if TYPE_CHECKING:
    from .simulator import Simulation
    from .strategy import SimAgent

#: A value a measure may return (None: not known, e.g. missed claims before they exist).
Value = int | float | str | None
ModelMeasure = Callable[["Simulation"], Value]
AgentMeasure = Callable[["Simulation", "SimAgent"], Value]

_PAGE = 100  # list_agents pages at most 100 agents


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one sample reads from the market, shared by every measure of that sample."""

    tasks: Mapping[str, int]
    credits_in_wallets: int
    credits_in_escrow: int
    fees_collected: int
    balances: Mapping[str, int]
    agents: Mapping[str, Agent]


def snapshot(sim: Simulation) -> Snapshot:
    """Read task counts, where the credits are, and every simulated agent's record and balance."""
    market = sim.market
    stats = market.stats()
    agents: dict[str, Agent] = {}
    offset = 0
    while True:
        page = market.list_agents(limit=_PAGE, offset=offset, order="newest")
        agents.update((a.id, a) for a in page)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return Snapshot(
        tasks=stats.tasks,
        credits_in_wallets=stats.credits_in_wallets,
        credits_in_escrow=stats.credits_in_escrow,
        fees_collected=stats.fees_collected,
        balances={a.id: market.balance(a.id) for a in sim.agents},
        agents=agents,
    )


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def top_share(work: list[int], fraction: float = 0.1) -> float:
    """The share of all ``work`` done by the top ``fraction`` of workers (at least one worker)."""
    total = sum(work)
    if total == 0:
        return 0.0
    top = max(1, round(len(work) * fraction))
    return round(sum(sorted(work, reverse=True)[:top]) / total, 6)


def _throughput(sim: Simulation) -> float:
    """Tasks completed per simulated hour since the previous sample."""
    hours = (sim.steps - sim.collector_mark[0]) * sim.step_seconds / 3600
    done = sim.counts["completed"] - sim.collector_mark[1]
    return round(done / hours, 6) if hours else 0.0


#: Model-level measures every collector records (in this column order).
MODEL_MEASURES: dict[str, ModelMeasure] = {
    "tasks_posted": lambda sim: sim.counts["posted"],
    "tasks_open": lambda sim: sim.snapshot.tasks.get("open", 0),
    "tasks_assigned": lambda sim: sim.snapshot.tasks.get("assigned", 0),
    "tasks_completed": lambda sim: sim.snapshot.tasks.get("completed", 0),
    "credits_in_wallets": lambda sim: sim.snapshot.credits_in_wallets,
    "credits_in_escrow": lambda sim: sim.snapshot.credits_in_escrow,
    "fees_collected": lambda sim: sim.snapshot.fees_collected,
    "gini": lambda sim: round(gini(list(sim.snapshot.balances.values())), 6),
    "mean_price": lambda sim: _mean([a.price_per_task for a in sim.snapshot.agents.values()]),
    "mean_reputation": lambda sim: _mean([a.reputation_score for a in sim.snapshot.agents.values()
                                          if a.reputation_score is not None]),
    "top10_work_share": lambda sim: top_share([a.total_tasks for a in sim.snapshot.agents.values()]),
    "throughput_per_hour": _throughput,
}

#: Agent-level measures every collector records.
AGENT_MEASURES: dict[str, AgentMeasure] = {
    "name": lambda sim, me: me.name,
    "strategy": lambda sim, me: me.strategy.name,
    "skill": lambda sim, me: me.skill,
    "price": lambda sim, me: sim.snapshot.agents[me.id].price_per_task,
    "balance": lambda sim, me: sim.snapshot.balances[me.id],
    "reputation": lambda sim, me: sim.snapshot.agents[me.id].reputation_score,
    "tasks_done": lambda sim, me: sim.snapshot.agents[me.id].total_tasks,
    "missed_claims": lambda sim, me: sim.snapshot.agents[me.id].missed_claims,
}


class Collector:
    """Samples measures from a running :class:`Simulation` every ``every`` steps.

    Model rows carry ``step``, ``hours`` (simulated time since the start) and one column
    per model measure; agent rows carry ``step``, ``agent_id`` and one column per agent
    measure. Measures see ``sim.snapshot`` (a :class:`Snapshot` read once per sample).

    Args:
        every: steps between two samples (the first sample is taken at step 0, the
            last when the run ends).
        model: extra model-level measures, ``name -> f(sim)``.
        agents: extra agent-level measures, ``name -> f(sim, agent)``.
        agent_level: record agent rows at all (they are many in long runs).
        on_sample: called with each new model row as it is taken (live views).

    Raises:
        ValueError: ``every`` below 1, or a measure name that is taken.
    """

    def __init__(
        self,
        every: int = 100,
        *,
        model: Mapping[str, ModelMeasure] | None = None,
        agents: Mapping[str, AgentMeasure] | None = None,
        agent_level: bool = True,
        on_sample: Callable[[dict[str, Value]], None] | None = None,
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1 step")
        for extra, builtin in ((model or {}, MODEL_MEASURES), (agents or {}, AGENT_MEASURES)):
            taken = sorted(set(extra) & (set(builtin) | {"step", "hours", "agent_id"}))
            if taken:
                raise ValueError(f"measure name {taken[0]!r} is taken by a built-in column")
        self.every = every
        self.model_measures = {**MODEL_MEASURES, **(model or {})}
        self.agent_measures = {**AGENT_MEASURES, **(agents or {})} if agent_level else {}
        self.on_sample = on_sample
        self.model_rows: list[dict[str, Value]] = []
        self.agent_rows: list[dict[str, Value]] = []

    @property
    def model_columns(self) -> list[str]:
        return ["step", "hours", *self.model_measures]

    @property
    def agent_columns(self) -> list[str]:
        return ["step", "agent_id", *self.agent_measures] if self.agent_measures else []

    def due(self, step: int) -> bool:
        """Whether a sample is due after ``step`` steps."""
        return step % self.every == 0

    def collect(self, sim: Simulation) -> None:
        """Take one sample now (the simulation calls this; call it yourself for an extra one)."""
        if self.model_rows and self.model_rows[-1]["step"] == sim.steps:
            return  # already sampled at this step (the run's last step fell on a due one)
        sim.snapshot = snapshot(sim)
        try:
            hours = round(sim.steps * sim.step_seconds / 3600, 6)
            row: dict[str, Value] = {"step": sim.steps, "hours": hours}
            row.update((name, measure(sim)) for name, measure in self.model_measures.items())
            self.model_rows.append(row)
            for agent in sim.agents if self.agent_measures else ():
                agent_row: dict[str, Value] = {"step": sim.steps, "agent_id": agent.id}
                agent_row.update((name, measure(sim, agent)) for name, measure in self.agent_measures.items())
                self.agent_rows.append(agent_row)
        finally:
            sim.collector_mark = (sim.steps, sim.counts["completed"])
        if self.on_sample is not None:
            self.on_sample(row)

    def write(self, model: str | Path | None = None, agents: str | Path | None = None) -> list[Path]:
        """Write the model series to ``model`` and/or the agent series to ``agents``, in the
        format each suffix names (.csv, .jsonl, .parquet); the same rows give the same bytes.

        Returns:
            The files written.

        Raises:
            ValueError: an unknown suffix. MissingExtra: Parquet without the ``sim`` extra. OSError.
        """
        written = []
        if model is not None:
            written.append(tables.write(model, self.model_rows, self.model_columns))
        if agents is not None:
            written.append(tables.write(agents, self.agent_rows, self.agent_columns))
        return written

    def to_pandas(self) -> tuple[Any, Any]:
        """The (model, agents) series as pandas DataFrames (needs the ``sim`` extra)."""
        return (tables.to_pandas(self.model_rows, self.model_columns),
                tables.to_pandas(self.agent_rows, self.agent_columns))

    def last(self) -> dict[str, Any]:
        """The newest model row (empty before the first sample)."""
        return dict(self.model_rows[-1]) if self.model_rows else {}
