"""Random sequences of every market operation against a plain-Python model of the market.

After every step each wallet, each task, the fee account, the stats and the totals must
equal the model, and ``verify_ledger()`` and ``verify_counters()`` must hold. A step the
model says is invalid must raise exactly the error the model predicts, and change nothing.

Time is the market's clock, which the machine advances (SPEC §10: deadlines, claim windows,
review windows); a sweep must change exactly the tasks whose timers the model says lapsed.
No credit is ever created: wallets, escrows and fees always sum to what was issued.
"""

from __future__ import annotations

from collections import Counter

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine import Market, MarketError, fees
from engine.states import OPERATOR

from .conftest import state_of

CAPABILITIES = ("research", "coding", "art")
NAMES = ("Ada", "ADA", "Bob", "bob", "Cy", "Dee", "Eve", "Fay")
capability_sets = st.lists(st.sampled_from(CAPABILITIES), max_size=3, unique=True)
pick = st.integers(min_value=0, max_value=10_000)


@dataclass
class ModelAgent:
    name: str
    capabilities: list[str]
    balance: int
    price: int = 0
    executable: bool = False
    ratings: list[int] = field(default_factory=list)
    completed: int = 0
    missed_claims: int = 0
    disputes_lost: int = 0


@dataclass
class ModelTask:
    poster: str
    budget: int
    capabilities: list[str]
    kind: str = "market"
    status: str = "open"
    assigned_to: str | None = None
    rating: int | None = None
    deadline: datetime | None = None
    claim_seconds: int = 86_400
    review_hours: int = 0
    evaluator: str | None = None
    claim_ends: datetime | None = None
    review_ends: datetime | None = None

    @property
    def escrow(self) -> int:
        return self.budget if self.status in ("open", "assigned", "submitted", "disputed") else 0

    def lapsed(self, now: datetime) -> bool:
        """Whether the timer of its current status has run out (a sweep acts on it)."""
        if self.kind != "market":
            return False
        due = {"open": self.deadline, "assigned": self.claim_ends, "submitted": self.review_ends}.get(self.status)
        return due is not None and due <= now


START = datetime(2026, 1, 1, tzinfo=UTC)
#: A deadline this many seconds after now, or None for the market's default (7 days).
deadlines = st.sampled_from([None, 600, 3_600, 86_400, 60])
claims = st.sampled_from([None, 600, 60, 7_200])
reviews = st.sampled_from([None, 1, 3, 0])
#: One field out of bounds (SPEC §10), each a refusal naming it.
out_of_bounds = st.sampled_from([{"deadline": 30}, {"deadline": 91 * 86_400}, {"deadline": -60},
                                 {"claim": 59}, {"claim": 30 * 86_400 + 1}, {"review": -1}, {"review": 721},
                                 {"budget": 0}])
#: Which task: the newest in one of the living states (any task when none is), or any by index.
which_tasks = st.sampled_from(["open", "assigned", "submitted", "disputed"]) | pick
#: Who acts: one of the task's own roles, or any agent by index.
actors = st.sampled_from(["poster", "assignee", "evaluator"]) | pick
shares = st.sampled_from([0, 1, 49, 50, 99, 100, -1, 101, 50.0, True])

class MarketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="stateful-")
        self.now = START
        self.market = Market(Path(self.directory) / "market.db", clock=lambda: self.now)
        self.agents: dict[str, ModelAgent] = {}
        self.granted_emails: set[str] = set()
        self.tasks: dict[str, ModelTask] = {}
        self.fees = 0
        self.issued = 0

    def teardown(self) -> None:
        self.market.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------
    def agent_id(self, index: int) -> str:
        return list(self.agents)[index % len(self.agents)]

    def task_id(self, which: int | str) -> str:
        if isinstance(which, str):
            in_state = [task_id for task_id, task in self.tasks.items() if task.status == which]
            return in_state[-1] if in_state else list(self.tasks)[0]
        return list(self.tasks)[which % len(self.tasks)]

    def actor(self, task: ModelTask, who: int | str) -> str:
        """The agent ``who`` names: a role on ``task`` (any agent when it has none) or an index."""
        if isinstance(who, int):
            return self.agent_id(who)
        named = {"poster": task.poster, "assignee": task.assigned_to, "evaluator": task.evaluator}[who]
        return named or self.agent_id(len(who))

    def attempt(self, call: Callable[[], Any], expected_error: str | None) -> Any:
        """Run ``call``; it must succeed when ``expected_error`` is None, else raise that code and change nothing."""
        if expected_error is None:
            return call()
        before = state_of(self.market)
        try:
            call()
        except MarketError as error:
            assert error.code == expected_error, f"{error.code} ({error.message}), expected {expected_error}"
        else:
            raise AssertionError(f"expected {expected_error}, but the call succeeded")
        assert state_of(self.market) == before
        return None

    def _state_error(self, task: ModelTask, needed: str, kinds: tuple[str, ...] = ("market",)) -> str | None:
        return "invalid_state" if task.kind not in kinds or task.status != needed else None

    def _pay_out(self, task: ModelTask, amount: int | None = None) -> None:
        """Pay the worker ``amount`` (default: the budget) less the fee; count its completed task."""
        pay, fee = fees.split(task.budget if amount is None else amount, self.market.settings.fee_percent)
        assert task.assigned_to is not None
        self.agents[task.assigned_to].balance += pay
        self.agents[task.assigned_to].completed += 1
        self.fees += fee

    # -- agents ---------------------------------------------------------------------
    @initialize()
    def founders(self) -> None:
        """Three agents able to take any task, so that long lifecycles happen often."""
        for name in ("Ann", "Ben", "Cal"):
            email = f"{name.lower()}@founders.example.com"
            registration = self.market.register_agent(name=name, capabilities=list(CAPABILITIES), owner_email=email)
            self.granted_emails.add(email)
            self.agents[registration.agent.id] = ModelAgent(name, list(CAPABILITIES), 100)
            self.issued += 100

    @rule(name=st.sampled_from(NAMES), capabilities=capability_sets, price=st.integers(0, 60),
          executable=st.booleans(), email=st.sampled_from(["o@example.com", "O@Example.com", "p@example.com"]))
    def register(self, name: str, capabilities: list[str], price: int, executable: bool, email: str) -> None:
        taken = any(a.name.casefold() == name.casefold() for a in self.agents.values())
        expected = "validation_error" if not capabilities else "name_taken" if taken else None
        endpoint = "https://agent.example.com/run" if executable else None
        registration = self.attempt(lambda: self.market.register_agent(
            name=name, capabilities=capabilities, owner_email=email, price_per_task=price,
            endpoint_url=endpoint), expected)
        if registration is not None:
            # One registration grant per owner email, compared regardless of case (SPEC §11).
            grant = 0 if email.casefold() in self.granted_emails else 100
            self.granted_emails.add(email.casefold())
            self.agents[registration.agent.id] = ModelAgent(name, capabilities, grant, price, executable)
            self.issued += grant

    @precondition(lambda self: self.agents)
    @rule(who=pick, name=st.none() | st.sampled_from(NAMES), capabilities=st.none() | capability_sets)
    def update_agent(self, who: int, name: str | None, capabilities: list[str] | None) -> None:
        agent_id = self.agent_id(who)
        changes: dict[str, Any] = {}
        expected = None
        if name is not None:
            changes["name"] = name
            if any(a.name.casefold() == name.casefold() for i, a in self.agents.items() if i != agent_id):
                expected = "name_taken"
        if capabilities is not None:
            changes["capabilities"] = capabilities
            if not capabilities:
                expected = "validation_error"  # validated before names are compared
        self.attempt(lambda: self.market.update_agent(agent_id, **changes), expected)
        if expected is None:
            agent = self.agents[agent_id]
            agent.name = name if name is not None else agent.name
            agent.capabilities = capabilities if capabilities is not None else agent.capabilities

    @precondition(lambda self: self.agents)
    @rule(who=pick, credits=st.integers(-1, 500))
    def grant(self, who: int, credits: int) -> None:
        agent_id = self.agent_id(who)
        self.attempt(lambda: self.market.grant(agent_id, credits), None if credits >= 1 else "validation_error")
        if credits >= 1:
            self.agents[agent_id].balance += credits
            self.issued += credits

    # -- tasks ----------------------------------------------------------------------
    @precondition(lambda self: self.agents)
    @rule(who=pick, budget=st.integers(1, 160), capabilities=capability_sets, deadline=deadlines, claim=claims,
          review=reviews, evaluator=st.none() | st.integers(1, 3))
    def post(self, who: int, budget: int, capabilities: list[str], deadline: int | None, claim: int | None,
             review: int | None, evaluator: int | None) -> None:
        self._post(who, budget, capabilities, deadline, claim, review, evaluator)

    @precondition(lambda self: self.agents)
    @rule(who=pick, wrong=out_of_bounds)
    def post_out_of_bounds(self, who: int, wrong: dict[str, int]) -> None:
        self._post(who, wrong.get("budget", 5), [], wrong.get("deadline"), wrong.get("claim"), wrong.get("review"),
                   None)

    def _post(self, who: int, budget: int, capabilities: list[str], deadline: int | None, claim: int | None,
              review: int | None, evaluator: int | None) -> None:
        poster = self.agents[agent_id := self.agent_id(who)]
        timers: dict[str, Any] = {}
        if deadline is not None:
            timers["deadline"] = (self.now + timedelta(seconds=deadline)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if claim is not None:
            timers["claim_seconds"] = claim
        if review is not None:
            timers["review_hours"] = review
        evaluator_id = None if evaluator is None else self.agent_id(who + evaluator)  # often not the poster
        if evaluator_id is not None:
            timers["evaluator_id"] = evaluator_id
        invalid = (budget < 1 or (deadline is not None and not 60 <= deadline <= 90 * 86_400)
                   or (claim is not None and not 60 <= claim <= 30 * 86_400)
                   or (review is not None and not 0 <= review <= 720)
                   or evaluator_id == agent_id)
        expected = "validation_error" if invalid else "insufficient_credits" if budget > poster.balance else None
        task = self.attempt(lambda: self.market.post_task(
            agent_id, title="Work", budget=budget, required_capabilities=capabilities, **timers), expected)
        if task is not None:
            poster.balance -= budget
            self.tasks[task.id] = ModelTask(
                agent_id, budget, capabilities, deadline=self.now + timedelta(seconds=deadline or 7 * 86_400),
                claim_seconds=claim or 86_400, review_hours=review or 0, evaluator=evaluator_id)

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=which_tasks, who=actors)
    def accept(self, which: int | str, who: int | str) -> None:
        task_id = self.task_id(which)
        task = self.tasks[task_id]
        agent_id = self.actor(task, who)
        agent = self.agents[agent_id]
        past_deadline = task.status == "expired" or (task.status == "open" and task.lapsed(self.now))
        expected = (("task_expired" if past_deadline else None)
                    or self._state_error(task, "open")
                    or ("own_task" if task.poster == agent_id else None)
                    or ("evaluator_cannot_accept" if task.evaluator == agent_id else None)
                    or ("missing_capabilities" if set(task.capabilities) - set(agent.capabilities) else None))
        self.attempt(lambda: self.market.accept_task(task_id, agent_id), expected)
        if expected is None:
            task.status, task.assigned_to = "assigned", agent_id
            task.claim_ends = self.now + timedelta(seconds=task.claim_seconds)

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=which_tasks, who=actors, result=st.sampled_from(["", "done"]))
    def complete(self, which: int | str, who: int | str, result: str) -> None:
        task_id = self.task_id(which)
        task = self.tasks[task_id]
        agent_id = self.actor(task, who)
        expected = (("validation_error" if not result else None)
                    or self._state_error(task, "assigned")
                    or ("not_assignee" if task.assigned_to != agent_id else None))
        self.attempt(lambda: self.market.complete_task(task_id, agent_id, result), expected)
        if expected is None and task.review_hours:
            event("submitted")
            task.status, task.review_ends = "submitted", self.now + timedelta(hours=task.review_hours)
        elif expected is None:
            self._pay_out(task)
            task.status = "completed"

    # -- review and disputes (SPEC §10) ---------------------------------------------
    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=which_tasks, who=actors)
    def approve(self, which: int | str, who: int | str) -> None:
        task_id = self.task_id(which)
        task = self.tasks[task_id]
        agent_id = self.actor(task, who)
        expected = ("not_poster" if task.poster != agent_id else None) or self._state_error(task, "submitted")
        self.attempt(lambda: self.market.approve_task(task_id, agent_id), expected)
        if expected is None:
            event("approved")
            self._pay_out(task)
            task.status = "completed"

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=which_tasks, who=actors, reason=st.sampled_from(["", "Not what I asked for"]))
    def reject(self, which: int | str, who: int | str, reason: str) -> None:
        task_id = self.task_id(which)
        task = self.tasks[task_id]
        agent_id = self.actor(task, who)
        expected = (("validation_error" if not reason else None)
                    or ("not_poster" if task.poster != agent_id else None)
                    or self._state_error(task, "submitted"))
        self.attempt(lambda: self.market.reject_task(task_id, agent_id, reason), expected)
        if expected is None:
            event("disputed")
            task.status = "disputed"

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=which_tasks, who=st.none() | actors, share=shares)
    def resolve(self, which: int | str, who: int | str | None, share: Any) -> None:
        task_id = self.task_id(which)
        task = self.tasks[task_id]
        actor = OPERATOR if who is None else self.actor(task, who)
        valid_share = type(share) is int and 0 <= share <= 100
        expected = (("validation_error" if not valid_share else None)
                    or ("not_evaluator" if actor != OPERATOR and actor != task.evaluator else None)
                    or self._state_error(task, "disputed"))
        self.attempt(lambda: self.market.resolve_task(task_id, actor, share, "settled"), expected)
        if expected is None:
            assert task.assigned_to is not None
            p = task.budget * share // 100
            if p > 0:
                self._pay_out(task, p)
            self.agents[task.poster].balance += task.budget - p
            self.agents[task.assigned_to].disputes_lost += share < 50
            task.status = "completed" if p > 0 else "refunded"
            event(f"resolved: {task.status}")

    @precondition(lambda self: self.tasks)
    @rule(which=which_tasks, steps=st.integers(1, 4), review=st.sampled_from(["wait", "approve", "reject"]),
          share=st.sampled_from([0, 30, 50, 100]), by_operator=st.booleans())
    def progress(self, which: int | str, steps: int, review: str, share: int, by_operator: bool) -> None:
        """Move one task on by up to ``steps`` lawful transitions, each by whoever may take it:
        long lifecycles (submitted, disputed, settled) happen in short runs this way."""
        index = list(self.tasks).index(self.task_id(which))
        for _ in range(steps):
            task = self.tasks[list(self.tasks)[index]]
            if task.kind != "market" or task.lapsed(self.now):
                return
            if task.status == "open":
                able = [i for i, (agent_id, agent) in enumerate(self.agents.items())
                        if agent_id not in (task.poster, task.evaluator)
                        and not set(task.capabilities) - set(agent.capabilities)]
                if not able:
                    return
                self.accept(index, able[0])
            elif task.status == "assigned":
                self.complete(index, "assignee", "done")
            elif task.status == "submitted" and review == "approve":
                self.approve(index, "poster")
            elif task.status == "submitted" and review == "reject":
                self.reject(index, "poster", "Not what I asked for")
            elif task.status == "disputed":
                self.resolve(index, None if by_operator or task.evaluator is None else "evaluator", share)
            else:
                return

    # -- time -----------------------------------------------------------------------
    @rule(seconds=st.sampled_from([30, 600, 3_600, 86_400, 8 * 86_400]))
    def advance_time(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def sweep(self) -> None:
        expected = {task_id for task_id, task in self.tasks.items() if task.lapsed(self.now)}
        changed = self.market.sweep()
        assert {t.id for t in changed} == expected
        for task_id in expected:
            task = self.tasks[task_id]
            event(f"swept {task.status}")
            if task.status == "open":
                self.agents[task.poster].balance += task.budget
                task.status = "expired"
            elif task.status == "assigned":
                assert task.assigned_to is not None and task.deadline is not None
                self.agents[task.assigned_to].missed_claims += 1
                task.assigned_to, task.claim_ends = None, None
                if task.deadline <= self.now:
                    self.agents[task.poster].balance += task.budget
                    task.status = "expired"
                else:
                    task.status = "open"
            else:
                self._pay_out(task)
                task.status = "completed"
        assert self.market.sweep() == []  # nothing left: a sweep is idempotent

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=pick, who=pick)
    def cancel(self, which: int, who: int) -> None:
        task_id, agent_id = self.task_id(which), self.agent_id(who)
        task = self.tasks[task_id]
        expected = ("not_poster" if task.poster != agent_id else None) or self._state_error(task, "open")
        self.attempt(lambda: self.market.cancel_task(task_id, agent_id), expected)
        if expected is None:
            self.agents[agent_id].balance += task.budget
            task.status = "cancelled"

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=pick, who=pick)
    def release(self, which: int, who: int) -> None:
        task_id, agent_id = self.task_id(which), self.agent_id(who)
        task = self.tasks[task_id]
        expected = self._state_error(task, "assigned") or ("not_assignee" if task.assigned_to != agent_id else None)
        self.attempt(lambda: self.market.release_task(task_id, agent_id), expected)
        if expected is None:
            task.status, task.assigned_to = "open", None

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=pick, who=pick, rating=st.integers(0, 6))
    def rate(self, which: int, who: int, rating: int) -> None:
        task_id, agent_id = self.task_id(which), self.agent_id(who)
        task = self.tasks[task_id]
        expected = (("validation_error" if not 1 <= rating <= 5 else None)
                    or ("not_poster" if task.poster != agent_id else None)
                    or self._state_error(task, "completed", ("market", "direct"))
                    or ("already_rated" if task.rating is not None else None))
        self.attempt(lambda: self.market.rate_task(task_id, agent_id, rating), expected)
        if expected is None:
            task.rating = rating
            assert task.assigned_to is not None
            self.agents[task.assigned_to].ratings.append(rating)

    # -- direct execution (the ledger side) -----------------------------------------
    @precondition(lambda self: self.agents)
    @rule(who=pick, whom=pick, budget=st.integers(1, 160))
    def hire(self, who: int, whom: int, budget: int) -> None:
        caller, target_id = self.agent_id(who), self.agent_id(whom)
        target = self.agents[target_id]
        expected = (("self_hire" if caller == target_id else None)
                    or ("agent_not_executable" if not target.executable else None)
                    or ("validation_error" if budget < target.price else None)
                    or ("insufficient_credits" if budget > self.agents[caller].balance else None))
        task = self.attempt(lambda: self.market.hire(caller, target_id, "Do this thing", budget), expected)
        if task is not None:
            self.agents[caller].balance -= budget
            self.tasks[task.id] = ModelTask(caller, budget, [], "direct", "assigned", target_id)

    @precondition(lambda self: self.tasks)
    @rule(which=pick, succeeded=st.booleans())
    def settle_hire(self, which: int, succeeded: bool) -> None:
        task_id = self.task_id(which)
        task = self.tasks[task_id]
        expected = self._state_error(task, "assigned", ("direct",))
        if succeeded:
            self.attempt(lambda: self.market.finish_hire(task_id, "a haiku"), expected)
        else:
            self.attempt(lambda: self.market.fail_hire(task_id, "timed out"), expected)
        if expected is None and succeeded:
            self._pay_out(task)
            task.status = "completed"
        elif expected is None:
            self.agents[task.poster].balance += task.budget
            task.status = "failed"

    # -- the market equals the model ------------------------------------------------
    @invariant()
    def matches_the_model(self) -> None:
        market = self.market
        for agent_id, model in self.agents.items():
            agent = market.get_agent(agent_id)
            assert market.balance(agent_id) == model.balance
            assert (agent.name, list(agent.capabilities)) == (model.name, model.capabilities)
            assert agent.total_tasks == model.completed
            assert (agent.missed_claims, agent.disputes_lost) == (model.missed_claims, model.disputes_lost)
            assert agent.reputation_score == (fees.reputation(sum(model.ratings), len(model.ratings)))
        for task_id, model_task in self.tasks.items():
            task = market.get_task(task_id)
            assert (task.status, task.escrow, task.assigned_to, task.rating, task.kind) == (
                model_task.status, model_task.escrow, model_task.assigned_to, model_task.rating, model_task.kind)
        stats = market.stats()
        assert stats.fees_collected == self.fees
        # no credit created or lost: what was issued sits in wallets, escrows and fees
        assert stats.credits_issued == self.issued
        assert stats.credits_in_wallets + stats.credits_in_escrow + stats.fees_collected == self.issued
        report = market.verify_ledger()
        assert report.ok, report.failed()
        counters = market.verify_counters()
        assert counters.ok, counters.failed()
        statuses = Counter(t.status for t in self.tasks.values())
        assert market.stats().tasks == dict(statuses)
        for status in statuses:
            assert market.count_tasks(status) == statuses[status]


MarketMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=50, deadline=None)
TestMarketMatchesModel = MarketMachine.TestCase
