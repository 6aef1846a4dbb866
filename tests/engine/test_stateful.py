"""Random sequences of every market operation against a plain-Python model of the market.

After every step each wallet, each task, the fee account, the stats and the totals must
equal the model, and ``verify_ledger()`` and ``verify_counters()`` must hold. A step the
model says is invalid must raise exactly the error the model predicts, and change nothing.
"""

from __future__ import annotations

from collections import Counter

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine import Market, MarketError, fees

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


@dataclass
class ModelTask:
    poster: str
    budget: int
    capabilities: list[str]
    kind: str = "market"
    status: str = "open"
    assigned_to: str | None = None
    rating: int | None = None

    @property
    def escrow(self) -> int:
        return self.budget if self.status in ("open", "assigned") else 0


class MarketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="stateful-")
        self.market = Market(Path(self.directory) / "market.db")
        self.agents: dict[str, ModelAgent] = {}
        self.granted_emails: set[str] = set()
        self.tasks: dict[str, ModelTask] = {}
        self.fees = 0

    def teardown(self) -> None:
        self.market.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------
    def agent_id(self, index: int) -> str:
        return list(self.agents)[index % len(self.agents)]

    def task_id(self, index: int) -> str:
        return list(self.tasks)[index % len(self.tasks)]

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

    def _pay_out(self, task: ModelTask) -> None:
        pay, fee = fees.split(task.budget, self.market.settings.fee_percent)
        assert task.assigned_to is not None
        self.agents[task.assigned_to].balance += pay
        self.agents[task.assigned_to].completed += 1
        self.fees += fee

    # -- agents ---------------------------------------------------------------------
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

    # -- tasks ----------------------------------------------------------------------
    @precondition(lambda self: self.agents)
    @rule(who=pick, budget=st.integers(0, 160), capabilities=capability_sets)
    def post(self, who: int, budget: int, capabilities: list[str]) -> None:
        poster = self.agents[agent_id := self.agent_id(who)]
        expected = "validation_error" if budget < 1 else "insufficient_credits" if budget > poster.balance else None
        task = self.attempt(lambda: self.market.post_task(
            agent_id, title="Work", budget=budget, required_capabilities=capabilities), expected)
        if task is not None:
            poster.balance -= budget
            self.tasks[task.id] = ModelTask(agent_id, budget, capabilities)

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=pick, who=pick)
    def accept(self, which: int, who: int) -> None:
        task_id, agent_id = self.task_id(which), self.agent_id(who)
        task, agent = self.tasks[task_id], self.agents[agent_id]
        expected = (self._state_error(task, "open")
                    or ("own_task" if task.poster == agent_id else None)
                    or ("missing_capabilities" if set(task.capabilities) - set(agent.capabilities) else None))
        self.attempt(lambda: self.market.accept_task(task_id, agent_id), expected)
        if expected is None:
            task.status, task.assigned_to = "assigned", agent_id

    @precondition(lambda self: self.agents and self.tasks)
    @rule(which=pick, who=pick, result=st.sampled_from(["", "done"]))
    def complete(self, which: int, who: int, result: str) -> None:
        task_id, agent_id = self.task_id(which), self.agent_id(who)
        task = self.tasks[task_id]
        expected = (("validation_error" if not result else None)
                    or self._state_error(task, "assigned")
                    or ("not_assignee" if task.assigned_to != agent_id else None))
        self.attempt(lambda: self.market.complete_task(task_id, agent_id, result), expected)
        if expected is None:
            self._pay_out(task)
            task.status = "completed"

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
            assert agent.reputation_score == (fees.reputation(sum(model.ratings), len(model.ratings)))
        for task_id, model_task in self.tasks.items():
            task = market.get_task(task_id)
            assert (task.status, task.escrow, task.assigned_to, task.rating, task.kind) == (
                model_task.status, model_task.escrow, model_task.assigned_to, model_task.rating, model_task.kind)
        assert market.stats().fees_collected == self.fees
        report = market.verify_ledger()
        assert report.ok, report.failed()
        counters = market.verify_counters()
        assert counters.ok, counters.failed()
        statuses = Counter(t.status for t in self.tasks.values())
        assert market.stats().tasks == dict(statuses)
        for status in statuses:
            assert market.count_tasks(status) == statuses[status]


MarketMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestMarketMatchesModel = MarketMachine.TestCase
