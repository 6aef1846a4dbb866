"""How simulated agents behave: what they post, what they accept, how they work, price and rate.

Subclass :class:`Strategy` and override any hook to try another behaviour; every hook
gets the agent, the facts it decides on and the run's seeded ``random.Random`` (use
only that one, so runs stay deterministic).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence

from ..records import Task

#: Capabilities simulated agents draw from.
CAPABILITIES: tuple[str, ...] = (
    "research", "summarization", "coding", "testing", "translation", "writing",
    "data-analysis", "design", "review", "math",
)

_SUBJECTS = (
    "the Q3 sales figures", "a paper on vector clocks", "our onboarding flow", "a CSV of sensor data",
    "the release notes", "a bug in the parser", "a product landing page", "the API changelog",
    "a survey of webhook retries", "a German user manual",
)
_VERBS = {
    "research": "Research", "summarization": "Summarize", "coding": "Implement a fix for",
    "testing": "Write tests for", "translation": "Translate", "writing": "Write a post about",
    "data-analysis": "Analyse", "design": "Sketch a design for", "review": "Review", "math": "Check the maths in",
}


@dataclass(frozen=True, slots=True)
class TaskIdea:
    """A task an agent wants to post."""

    title: str
    budget: int
    required_capabilities: tuple[str, ...]
    description: str = ""


@dataclass(slots=True)
class SimAgent:
    """A simulated agent: its market identity, its behaviour and a hidden skill (0–1)."""

    id: str
    name: str
    capabilities: frozenset[str]
    price: int
    strategy: Strategy
    skill: float = 0.7
    stats: dict[str, int] = field(default_factory=dict)

    def can_do(self, required: Sequence[str]) -> bool:
        """Whether the agent has every required capability."""
        return self.capabilities.issuperset(required)


class Strategy:
    """A balanced agent: posts modest tasks, takes work at or above its price, rates fairly.

    Every hook may be overridden; ``name`` labels the strategy in summaries.
    """

    name = "balanced"
    #: chance of posting when the simulation offers the agent a turn to post
    post_rate = 1.0

    def idea(self, me: SimAgent, rng: random.Random) -> TaskIdea | None:
        """The task ``me`` posts now, or None to skip its turn."""
        if rng.random() >= self.post_rate:
            return None
        capability = rng.choice(CAPABILITIES)
        subject = rng.choice(_SUBJECTS)
        extra = (rng.choice(CAPABILITIES),) if rng.random() < 0.2 else ()
        return TaskIdea(
            title=f"{_VERBS[capability]} {subject}",
            budget=self.budget(me, capability, rng),
            required_capabilities=tuple(dict.fromkeys((capability, *extra))),
            description=f"Posted by {me.name}. Please be thorough.",
        )

    def budget(self, me: SimAgent, capability: str, rng: random.Random) -> int:
        """What ``me`` offers for work needing ``capability``."""
        return rng.randint(5, 40)

    def accepts(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        """Whether ``me`` takes ``task`` (it already has the capabilities)."""
        return task.budget >= me.price

    def work(self, me: SimAgent, task: Task, rng: random.Random) -> str | None:
        """The result ``me`` delivers for ``task``, or None to give the task back."""
        if rng.random() < (1 - me.skill) / 5:
            return None
        return f"{me.name} on '{task.title}': done, {rng.randint(2, 9)} findings attached."

    def rate(self, me: SimAgent, task: Task, worker: SimAgent, rng: random.Random) -> int | None:
        """The rating ``me`` gives ``worker`` for ``task`` (None: no rating)."""
        if rng.random() < 0.25:
            return None
        return max(1, min(5, round(rng.gauss(1 + 4 * worker.skill, 0.8))))

    def cancels(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        """Whether ``me`` withdraws its own task that nobody took."""
        return rng.random() < 0.3

    def top_up(self, me: SimAgent, needed: int, balance: int, rng: random.Random) -> int:
        """Credits ``me``'s owner adds when a post needs ``needed`` and the wallet holds ``balance``."""
        return max(100, needed - balance)

    def reprice(self, me: SimAgent, rng: random.Random) -> int | None:
        """A new asking price for ``me``, asked on each of its turns (None: keep ``me.price``).

        ``me.stats`` counts what happened to the agent: ``taken``, ``done``, ``released``.
        """
        return None


class Frugal(Strategy):
    """Posts small budgets and rates harshly."""

    name = "frugal"

    def budget(self, me: SimAgent, capability: str, rng: random.Random) -> int:
        return rng.randint(1, 12)

    def rate(self, me: SimAgent, task: Task, worker: SimAgent, rng: random.Random) -> int | None:
        rating = super().rate(me, task, worker, rng)
        return None if rating is None else max(1, rating - 1)


class Premium(Strategy):
    """Charges more, only takes well-paid work, and posts generous budgets."""

    name = "premium"

    def budget(self, me: SimAgent, capability: str, rng: random.Random) -> int:
        return rng.randint(30, 120)

    def accepts(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        return task.budget >= max(me.price, 25)


class Flaky(Strategy):
    """Takes anything and often gives it back unfinished."""

    name = "flaky"
    post_rate = 0.6

    def accepts(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        return True

    def work(self, me: SimAgent, task: Task, rng: random.Random) -> str | None:
        return None if rng.random() < 0.25 else super().work(me, task, rng)


class AdaptivePricer(Strategy):
    """Raises its price when busy and lowers it when idle.

    On each of its turns it looks at how many tasks it took since its previous turn:
    at least ``busy`` of them and the price goes up by ``step`` (at least 1 credit),
    none and it goes down by as much, never below ``floor``.
    """

    name = "adaptive"
    busy = 2
    step = 0.1
    floor = 1
    ceiling = 500

    def reprice(self, me: SimAgent, rng: random.Random) -> int | None:
        taken = me.stats.get("taken", 0)
        since, me.stats["taken_at_reprice"] = taken - me.stats.get("taken_at_reprice", 0), taken
        change = max(1, round(me.price * self.step))
        if since >= self.busy:
            return min(self.ceiling, me.price + change)
        if since == 0:
            return max(self.floor, me.price - change)
        return None


class ReputationSeeker(Strategy):
    """Guards its reputation: only takes tasks it can do well, and never gives work back.

    The agent's expected quality on a task is its skill less ``penalty`` per required
    capability beyond the first; it accepts when that clears ``bar`` and the budget
    covers its price. Having chosen carefully, it finishes what it takes.
    """

    name = "reputation"
    bar = 0.7
    penalty = 0.1

    def accepts(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        quality = me.skill - self.penalty * max(0, len(task.required_capabilities) - 1)
        return quality >= self.bar and task.budget >= me.price

    def work(self, me: SimAgent, task: Task, rng: random.Random) -> str | None:
        return f"{me.name} on '{task.title}': done carefully, {rng.randint(2, 9)} findings attached."


#: The built-in strategies, in the order mixes draw from (today's default mix).
BUILTIN: tuple[type[Strategy], ...] = (Strategy, Frugal, Premium, Flaky)
#: Every built-in strategy by name, for command lines and sweeps.
BY_NAME: dict[str, type[Strategy]] = {s.name: s for s in (*BUILTIN, AdaptivePricer, ReputationSeeker)}
