"""What a simulation run produced: where the credits are, how unequal, who is best rated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..market import Market


def gini(values: Sequence[int | float]) -> float:
    """The Gini coefficient of ``values``: 0 when all are equal, towards 1 when one holds all."""
    ordered = sorted(values)
    count, total = len(ordered), sum(ordered)
    if count == 0 or total == 0:
        return 0.0
    weighted = sum(rank * value for rank, value in enumerate(ordered, start=1))
    return 2 * weighted / (count * total) - (count + 1) / count


@dataclass(frozen=True, slots=True)
class TopAgent:
    name: str
    reputation: float | None
    ratings: int
    tasks_done: int
    balance: int


@dataclass(frozen=True, slots=True)
class Summary:
    """The deterministic outcome of a run (same seed, same summary), plus its pace."""

    agents: int
    counts: Mapping[str, int]
    tasks_by_status: Mapping[str, int]
    credits_issued: int
    credits_in_wallets: int
    credits_in_escrow: int
    fees_collected: int
    gini: float
    top_agents: tuple[TopAgent, ...]
    ledger_ok: bool
    seconds: float = 0.0

    @property
    def lifecycles(self) -> int:
        """Tasks taken from posting to completion."""
        return self.counts.get("completed", 0)

    @property
    def lifecycles_per_second(self) -> float:
        return self.lifecycles / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        """The summary as text; identical for identical runs (no timings in it)."""
        c = self.counts
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(self.tasks_by_status.items()))
        lines = [
            f"agents            {self.agents}",
            f"tasks posted      {c.get('posted', 0)} ({statuses})",
            f"lifecycles        {self.lifecycles} completed, {c.get('rated', 0)} rated, "
            f"{c.get('released', 0)} released, {c.get('cancelled', 0)} cancelled",
            f"credits issued    {self.credits_issued} ({c.get('top_ups', 0)} owner top-ups)",
            f"in wallets        {self.credits_in_wallets}",
            f"in escrow         {self.credits_in_escrow}",
            f"fees collected    {self.fees_collected}",
            f"gini (balances)   {self.gini:.4f}",
            "top agents by reputation:",
        ]
        for rank, agent in enumerate(self.top_agents, start=1):
            reputation = "-" if agent.reputation is None else f"{agent.reputation:.1f}"
            lines.append(f"  {rank}. {agent.name:<16} reputation {reputation} ({agent.ratings} ratings), "
                         f"{agent.tasks_done} tasks, {agent.balance} credits")
        lines.append("ledger            " + ("verifies" if self.ledger_ok else "DOES NOT VERIFY"))
        return lines

    def throughput(self) -> str:
        """The run's pace: differs between runs, so kept out of :meth:`lines`."""
        return f"{self.lifecycles} lifecycles in {self.seconds:.2f} s: {self.lifecycles_per_second:,.0f} lifecycles/s"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = dict(self.counts)
        data["tasks_by_status"] = dict(self.tasks_by_status)
        data["lifecycles_per_second"] = round(self.lifecycles_per_second, 1)
        return data


def summarize(market: Market, agent_ids: Sequence[str], counts: Mapping[str, int], seconds: float = 0.0,
              top: int = 5) -> Summary:
    """Read a run's outcome from ``market`` and verify its ledger.

    Args:
        agent_ids: the simulated agents, whose balances the Gini coefficient covers.
        counts: the simulation's own tallies (posted, completed, ...).
        seconds: how long the run took, for the throughput line.
        top: how many agents to list by reputation.
    """
    stats = market.stats()
    balances = {agent_id: market.balance(agent_id) for agent_id in agent_ids}
    best = market.list_agents(limit=top, order="reputation")
    return Summary(
        agents=stats.agents,
        counts=dict(sorted(counts.items())),
        tasks_by_status=dict(sorted(stats.tasks.items())),
        credits_issued=stats.credits_issued,
        credits_in_wallets=stats.credits_in_wallets,
        credits_in_escrow=stats.credits_in_escrow,
        fees_collected=stats.fees_collected,
        gini=round(gini(list(balances.values())), 4),
        top_agents=tuple(TopAgent(a.name, a.reputation_score, a.rating_count, a.total_tasks,
                                  balances.get(a.id, market.balance(a.id))) for a in best),
        ledger_ok=market.verify_ledger().ok,
        seconds=seconds,
    )
