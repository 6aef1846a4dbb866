"""The demo market: a dozen agents with a history, and a thread that keeps them trading.

``open_demo(market)`` fills an empty market (or finds the demo agents in one it filled
before) and hands back the human's agent and its key; ``LiveMarket`` lets the other
eleven post, accept, complete and rate work every tick, making their results locally,
so the market lives without any network.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InsufficientCredits, MarketError
from ..market import Market
from ..records import Task
from ..states import TaskStatus
from ..validation import later
from .simulator import Simulation
from .strategy import Flaky, Frugal, Premium, SimAgent, Strategy


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    capabilities: tuple[str, ...]
    price: int
    description: str
    strategy: type[Strategy] = Strategy
    skill: float = 0.8
    system_prompt: str | None = None


#: The human's agent in the demo (not simulated: the app acts as it).
YOU = Profile("Quill", ("writing", "summarization", "review"), 8,
              "You: a careful writer and reviewer. Post work, take work, hire others.")

PROFILES: tuple[Profile, ...] = (
    Profile("Atlas Research", ("research", "summarization"), 15, "Deep literature and market research.",
            Premium, 0.95, "You are a meticulous research assistant."),
    Profile("Byte Smith", ("coding", "testing"), 12, "Fixes bugs and writes the tests that prove it.",
            Strategy, 0.85, "You are a senior Python engineer."),
    Profile("Cicero", ("writing", "translation"), 6, "Clear prose in English, German and French.",
            Strategy, 0.8),
    Profile("Datum", ("data-analysis", "math"), 10, "Numbers in, charts and conclusions out.",
            Strategy, 0.9, "You are a statistician who explains results plainly."),
    Profile("Echo", ("summarization", "review"), 2, "Quick summaries, cheap and cheerful.", Frugal, 0.6),
    Profile("Fathom", ("research", "data-analysis"), 20, "Competitive intelligence, thoroughly sourced.",
            Premium, 0.9),
    Profile("Glyph", ("design", "writing"), 9, "Landing pages, logos and the words around them.",
            Strategy, 0.75),
    Profile("Hexa", ("coding", "review", "testing"), 5, "Code review with a keen eye for edge cases.",
            Flaky, 0.55),
    Profile("Iris", ("translation", "summarization"), 4, "Translates and condenses documents.",
            Frugal, 0.7),
    Profile("Jolt", ("coding", "math"), 14, "Algorithms and performance work.", Strategy, 0.85),
    Profile("Kite", ("research", "writing", "design"), 0, "A generalist who will try anything once.",
            Flaky, 0.5),
)


@dataclass(frozen=True, slots=True)
class DemoMarket:
    """The demo as opened: the human's agent, its fresh API key, and the simulated others."""

    you_id: str
    you_key: str
    agents: tuple[SimAgent, ...]


def open_demo(market: Market, seed: int = 7) -> DemoMarket:
    """Fill ``market`` with the demo (or reuse a demo it already holds).

    A reused demo gets a new API key for the human's agent, since keys are stored only as
    hashes. Returns the demo's agents and that key.
    """
    existing = {a.name: a for a in market.list_agents(limit=100, order="name")}
    if YOU.name in existing:
        you_id = existing[YOU.name].id
        agents = tuple(_sim_agent(existing[p.name].id, p) for p in PROFILES if p.name in existing)
        return DemoMarket(you_id, market.rotate_key(you_id), agents)
    rng = random.Random(seed)
    you = _register(market, YOU)
    agents = tuple(_sim_agent(_register(market, p).agent.id, p) for p in PROFILES)
    _write_history(market, you.agent.id, agents, rng)
    return DemoMarket(you.agent.id, you.api_key, agents)


def _register(market: Market, profile: Profile):  # -> Registration
    slug = profile.name.lower().replace(" ", ".")
    return market.register_agent(
        name=profile.name, capabilities=list(profile.capabilities), owner_email=f"{slug}@demo.agentmarket.dev",
        description=profile.description, price_per_task=profile.price, system_prompt=profile.system_prompt,
    )


def _sim_agent(agent_id: str, profile: Profile) -> SimAgent:
    return SimAgent(agent_id, profile.name, frozenset(profile.capabilities), profile.price, profile.strategy(),
                    skill=profile.skill)


def _write_history(market: Market, you_id: str, agents: tuple[SimAgent, ...], rng: random.Random) -> None:
    """Some past trade, and a task in every state (open, assigned, submitted, disputed, completed,
    cancelled, failed)."""
    Simulation(market, agents, rng).run(tasks=40)
    live = LiveMarket(market, agents, rng)
    for _ in range(3):
        task = live.post()
        if task is not None:
            live.accept(task)  # left assigned: someone is working on it
    yours = market.post_task(you_id, title="Proofread the AgentMarket README", budget=12,
                             description="Typos, unclear sentences, broken links.", required_capabilities=["review"])
    live.accept(yours)
    live.finish(market.get_task(yours.id))  # completed: yours to rate
    market.post_task(you_id, title="Summarize three papers on escrow ledgers", budget=20,
                     required_capabilities=["summarization"])
    # SPEC §10: a result awaiting your review, and a dispute you settle as evaluator.
    writer = next(a for a in agents if a.can_do(("writing",)))
    translator = next(a for a in agents if a.can_do(("translation",)) and a.id != writer.id)
    reviewed = market.post_task(you_id, title="Edit the launch announcement", budget=18, review_hours=24,
                                description="Tighten it to 150 words.", required_capabilities=["writing"])
    market.accept_task(reviewed.id, writer.id)
    market.complete_task(reviewed.id, writer.id, "AgentMarket opens today: post work, take work, get paid.")
    disputed = market.post_task(writer.id, title="Translate the pricing page", budget=16, review_hours=24,
                                evaluator_id=you_id, required_capabilities=["translation"])
    market.accept_task(disputed.id, translator.id)
    market.complete_task(disputed.id, translator.id, "Preise: Basic 10, Pro 40 (the rest to follow).")
    market.reject_task(disputed.id, writer.id, "Half of the page is still in English.")
    hireable = next(a for a in agents if any(p.name == a.name and p.system_prompt for p in PROFILES))
    failed = market.hire(you_id, hireable.id, "Draft a one-page market report", max(hireable.price, 15))
    market.fail_hire(failed.id, "the demo agent was offline")


class LiveMarket:
    """Simulated agents that act one step per :meth:`tick`, on any task in the market.

    Unlike :class:`Simulation`, it reads open and assigned tasks from the market each
    time, so tasks people post (in the app, or through the API) get taken and done too.

    Args:
        market: the market to act on.
        agents: the simulated agents (already registered).
        rng: randomness for every decision.
    """

    def __init__(self, market: Market, agents: tuple[SimAgent, ...], rng: random.Random) -> None:
        self.market = market
        self.agents = agents
        self.rng = rng
        self._by_id = {a.id: a for a in agents}

    def tick(self) -> str | None:
        """Do one thing (post, accept, complete or rate); returns what happened, or None."""
        actions: list[Callable[[], str | None]] = [self._post_one, self._accept_one, self._finish_one, self._rate_one,
                                                   self._review_one]
        first = self.rng.choices(range(len(actions)), weights=(3, 3, 3, 1, 2))[0]
        for action in actions[first:] + actions[:first]:
            try:
                done = action()
            except MarketError:  # another actor got there first; try something else
                continue
            if done:
                return done
        return None

    # -- single steps, also used to build the demo's history -----------------------------
    def post(self) -> Task | None:
        poster = self.rng.choice(self.agents)
        idea = poster.strategy.idea(poster, self.rng)
        if idea is None:
            return None
        fields = {"title": idea.title, "budget": idea.budget, "description": idea.description,
                  "required_capabilities": list(idea.required_capabilities), **self._timers()}
        try:
            return self.market.post_task(poster.id, **fields)
        except InsufficientCredits:
            self.market.grant(poster.id, poster.strategy.top_up(poster, idea.budget, 0, self.rng))
            return self.market.post_task(poster.id, **fields)

    def _timers(self) -> dict[str, Any]:
        """Short windows on some tasks, so that expiry, lapsed claims and review happen while you watch."""
        roll = self.rng.random()
        if roll < 0.25:
            return {"review_hours": 1}
        if roll < 0.35:
            return {"deadline": later(self.market.context.now(), 120)}  # may expire untaken
        if roll < 0.45:
            return {"claim_seconds": 60}  # a slow worker may lose it
        return {}

    def accept(self, task: Task) -> SimAgent | None:
        capable = [a for a in self.agents if a.id != task.poster_id and a.id != task.evaluator_id
                   and a.can_do(task.required_capabilities)]
        self.rng.shuffle(capable)
        for agent in capable:
            if agent.strategy.accepts(agent, task, self.rng):
                self.market.accept_task(task.id, agent.id)
                return agent
        return None

    def finish(self, task: Task) -> str:
        worker = self._by_id[task.assigned_to or ""]
        result = worker.strategy.work(worker, task, self.rng)
        if result is None:
            self.market.release_task(task.id, worker.id)
            return f"{worker.name} gave back '{task.title}'"
        self.market.complete_task(task.id, worker.id, result)
        return f"{worker.name} completed '{task.title}' and earned credits"

    # -- tick actions ---------------------------------------------------------------------
    def _post_one(self) -> str | None:
        task = self.post()
        if task is None:
            return None
        return f"{self._by_id[task.poster_id].name} posted '{task.title}' for {task.budget} credits"

    def _accept_one(self) -> str | None:
        for task in self._sample(TaskStatus.OPEN):
            agent = self.accept(task)
            if agent is not None:
                return f"{agent.name} accepted '{task.title}'"
        return None

    def _finish_one(self) -> str | None:
        mine = [t for t in self._sample(TaskStatus.ASSIGNED) if t.assigned_to in self._by_id and t.kind == "market"]
        return self.finish(mine[0]) if mine else None

    def _rate_one(self) -> str | None:
        for task in self._sample(TaskStatus.COMPLETED):
            poster, worker = self._by_id.get(task.poster_id), self._by_id.get(task.assigned_to or "")
            if task.rating is None and poster is not None and worker is not None:
                rating = poster.strategy.rate(poster, task, worker, self.rng) or 3
                self.market.rate_task(task.id, poster.id, rating)
                return f"{poster.name} rated {worker.name} {rating}/5"
        return None

    def _review_one(self) -> str | None:
        """A simulated poster reviews a submitted result: mostly approves, sometimes disputes it."""
        for task in self._sample(TaskStatus.SUBMITTED):
            poster = self._by_id.get(task.poster_id)
            if poster is None:
                continue
            if self.rng.random() < 0.8:
                self.market.approve_task(task.id, poster.id)
                return f"{poster.name} approved '{task.title}'"
            self.market.reject_task(task.id, poster.id, "Not what was asked for.")
            return f"{poster.name} disputed '{task.title}'"
        return None

    def _sample(self, status: str) -> list[Task]:
        tasks = self.market.list_tasks(status, limit=50)
        self.rng.shuffle(tasks)
        return tasks


class LiveMarketThread(threading.Thread):
    """Runs a :class:`LiveMarket` in the background, one tick every ``interval`` seconds, until stopped."""

    def __init__(self, live: LiveMarket, interval: float = 1.0, on_tick: Callable[[str], None] | None = None) -> None:
        super().__init__(name="agentmarket-live-demo", daemon=True)
        self.live = live
        self.interval = interval
        self.on_tick = on_tick
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                done = self.live.tick()
            except Exception:  # a closed market at shutdown; the demo must never crash the app
                if self._stop_event.is_set():
                    return
                raise
            if done and self.on_tick is not None:
                self.on_tick(done)

    def stop(self) -> None:
        """Stop after the current tick and wait for it."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=10)
