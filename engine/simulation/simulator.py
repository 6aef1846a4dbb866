"""The simulator: simulated agents posting, taking, doing and rating work in a real Market."""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable, Sequence

from ..errors import InsufficientCredits
from ..market import Market
from ..records import Task
from .collector import Collector, Snapshot
from .seeded import SimulatedClock
from .strategy import BUILTIN, CAPABILITIES, SimAgent, Strategy, TaskIdea

_NAMES = (
    "Ada", "Babbage", "Curie", "Dijkstra", "Euler", "Fermi", "Gauss", "Hopper", "Ising", "Jacobi",
    "Knuth", "Lovelace", "Minsky", "Noether", "Ohm", "Pascal", "Quine", "Ramanujan", "Shannon", "Turing",
)
#: Open tasks nobody took wait here for another chance; beyond this many, the oldest is withdrawn.
BACKLOG_LIMIT = 64
#: Simulated seconds between two steps.
STEP_SECONDS = 5.0
#: Steps committed together by :meth:`Simulation.run`.
STEPS_PER_BATCH = 64


class Simulation:
    """Simulated agents acting on ``market`` through its public methods, driven by ``rng``.

    Each :meth:`step` gives one agent the turn to post a task; a capable agent that
    likes it accepts it and either completes it (the poster then rates) or releases it.
    Tasks nobody takes wait in a backlog and may be cancelled by their poster. The
    same market state, agents and seed give the same run.

    Args:
        market: the market to act on (ideally a ``seeded_market`` for repeatable ids).
        agents: the simulated agents, already registered in ``market``.
        rng: the only source of randomness for every decision.
        clock: the market's simulated clock, advanced by :data:`STEP_SECONDS` per step.
        collector: samples series as the run goes (see :class:`Collector`).
    """

    #: Simulated seconds per step.
    step_seconds = STEP_SECONDS
    #: Steps whose operations commit in one transaction.
    steps_per_batch = STEPS_PER_BATCH

    def __init__(
        self,
        market: Market,
        agents: Sequence[SimAgent],
        rng: random.Random,
        clock: SimulatedClock | None = None,
        collector: Collector | None = None,
    ) -> None:
        if not agents:
            raise ValueError("a simulation needs at least one agent")
        self.market = market
        self.agents = list(agents)
        self.rng = rng
        self.clock = clock
        self.collector = collector
        self.counts: Counter[str] = Counter()
        self.steps = 0
        #: what the collector's current sample read from the market (measures use it)
        self.snapshot: Snapshot | None = None
        #: (step, completed) at the previous sample, for rates between samples
        self.collector_mark: tuple[int, int] = (0, 0)
        self._by_id = {a.id: a for a in self.agents}
        self._by_capability: dict[str, list[SimAgent]] = {}
        for agent in self.agents:
            for capability in sorted(agent.capabilities):
                self._by_capability.setdefault(capability, []).append(agent)
        self._backlog: deque[Task] = deque()

    @classmethod
    def populate(
        cls,
        market: Market,
        count: int,
        rng: random.Random,
        *,
        strategies: Sequence[type[Strategy] | Strategy] = BUILTIN,
        clock: SimulatedClock | None = None,
        per_agent: Sequence[type[Strategy] | Strategy] | None = None,
        collector: Collector | None = None,
    ) -> Simulation:
        """Register ``count`` agents with drawn capabilities, prices, skills and strategies.

        Args:
            strategies: strategy classes or instances to draw from (custom ones welcome).
            per_agent: instead of drawing, the strategy of each agent in turn (``count`` of them).
            collector: passed on to the simulation.

        Returns:
            A simulation of those agents.

        Raises:
            ValueError: ``per_agent`` does not name ``count`` strategies.
        """
        if per_agent is not None and len(per_agent) != count:
            raise ValueError(f"per_agent names {len(per_agent)} strategies for {count} agents")
        agents = []
        for number in range(1, count + 1):
            chosen = per_agent[number - 1] if per_agent is not None else rng.choice(strategies)
            strategy = chosen() if isinstance(chosen, type) else chosen
            capabilities = frozenset(rng.sample(CAPABILITIES, rng.randint(2, 5)))
            name = f"{rng.choice(_NAMES)}-{number}"
            price = rng.randint(0, 20)
            registration = market.register_agent(
                name=name, capabilities=sorted(capabilities), owner_email=f"owner{number}@sim.example",
                description=f"A simulated {strategy.name} agent.", price_per_task=price,
            )
            agents.append(SimAgent(registration.agent.id, name, capabilities, price, strategy,
                                   skill=round(rng.uniform(0.3, 1.0), 3)))
        return cls(market, agents, rng, clock, collector)

    @property
    def backlog(self) -> Sequence[Task]:
        """Open tasks nobody took yet, oldest first."""
        return tuple(self._backlog)

    # -- running ----------------------------------------------------------------------
    def run(self, tasks: int, on_step: Callable[[int], None] | None = None) -> None:
        """Step until ``tasks`` tasks have been posted; the collector samples along the way and at the end.

        Args:
            tasks: how many tasks to post in all.
            on_step: called after each step with the number of tasks posted so far.
        """
        collector = self.collector
        if collector is not None and self.steps == 0:
            collector.collect(self)
        counts = self.counts
        while counts["posted"] < tasks:
            # A group of steps commits together (each operation in it stays all-or-nothing):
            # fewer commits, and pages such as the counters' written once per group.
            with self.market.batch():
                for _ in range(self.steps_per_batch):
                    self.step()
                    if collector is not None and collector.due(self.steps):
                        collector.collect(self)
                    if on_step is not None:
                        on_step(counts["posted"])
                    if counts["posted"] >= tasks:
                        break
        if collector is not None:
            collector.collect(self)

    def step(self) -> None:
        """One agent's turn to (re)price and post; then one waiting task gets another chance."""
        self.steps += 1
        if self.clock is not None:
            self.clock.advance(self.step_seconds)
        poster = self.rng.choice(self.agents)
        price = poster.strategy.reprice(poster, self.rng)
        if price is not None and price != poster.price:
            self.market.update_agent(poster.id, price_per_task=price)
            poster.price = price
        idea = poster.strategy.idea(poster, self.rng)
        if idea is not None:
            task = self._post(poster, idea)
            if not self._offer(task):
                self._wait(task)
        if self._backlog:
            waiting = self._backlog.popleft()
            if not self._offer(waiting):
                self._backlog.append(waiting)

    # -- the lifecycle of one task ------------------------------------------------------
    def _post(self, poster: SimAgent, idea: TaskIdea) -> Task:
        fields = {"title": idea.title, "budget": idea.budget, "description": idea.description,
                  "required_capabilities": list(idea.required_capabilities)}
        try:
            task = self.market.post_task(poster.id, **fields)
        except InsufficientCredits as short:
            balance = short.details["balance"]
            credits = poster.strategy.top_up(poster, idea.budget, balance, self.rng)
            self.market.grant(poster.id, max(credits, idea.budget - balance))
            self.counts["top_ups"] += 1
            task = self.market.post_task(poster.id, **fields)
        self.counts["posted"] += 1
        return task

    def _offer(self, task: Task) -> bool:
        """Find a capable, willing agent for ``task`` and let it work; False if nobody took it."""
        pool = self._by_capability.get(task.required_capabilities[0], []) if task.required_capabilities \
            else self.agents
        if not pool:
            return False
        for _ in range(4):
            worker = self.rng.choice(pool)
            if worker.id != task.poster_id and worker.can_do(task.required_capabilities) \
                    and worker.strategy.accepts(worker, task, self.rng):
                self._work(task, worker)
                return True
        return False

    def _work(self, task: Task, worker: SimAgent) -> None:
        task = self.market.accept_task(task.id, worker.id)
        self.counts["accepted"] += 1
        stats = worker.stats
        stats["taken"] = stats.get("taken", 0) + 1
        result = worker.strategy.work(worker, task, self.rng)
        if result is None:
            self._wait(self.market.release_task(task.id, worker.id))
            self.counts["released"] += 1
            stats["released"] = stats.get("released", 0) + 1
            return
        task = self.market.complete_task(task.id, worker.id, result)
        self.counts["completed"] += 1
        stats["done"] = stats.get("done", 0) + 1
        poster = self._by_id.get(task.poster_id)
        if poster is None:
            return
        rating = poster.strategy.rate(poster, task, worker, self.rng)
        if rating is not None:
            self.market.rate_task(task.id, poster.id, rating)
            self.counts["rated"] += 1

    def _wait(self, task: Task) -> None:
        """Park an untaken task; its poster may withdraw it, and the backlog stays bounded."""
        poster = self._by_id.get(task.poster_id)
        if poster is not None and poster.strategy.cancels(poster, task, self.rng):
            self._cancel(task)
        else:
            self._backlog.append(task)
        if len(self._backlog) > BACKLOG_LIMIT:
            self._cancel(self._backlog.popleft())

    def _cancel(self, task: Task) -> None:
        self.market.cancel_task(task.id, task.poster_id)
        self.counts["cancelled"] += 1
