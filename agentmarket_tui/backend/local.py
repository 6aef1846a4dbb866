"""``LocalBackend``: the market engine in this process, on a SQLite file."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine import Market
from engine.records import Agent, Delivery, Event, Registration, Stats, Task, Transaction, Wallet, Webhook

from .base import Backend, ExecutionResult, Page
from engine.errors import ValidationError

from .errors import NoIdentity


class LocalBackend(Backend):
    """A backend over an in-process :class:`engine.Market`.

    Args:
        market: the market to act on (the backend does not own it unless ``owns``).
        api_key: act as this agent from the start.
        owns: close the market when the backend closes.
    """

    def __init__(self, market: Market, api_key: str | None = None, *, owns: bool = False) -> None:
        self.market = market
        self.location = market.path
        self._owns = owns
        self._key: str | None = None
        self._agent_id: str | None = None
        if api_key:
            self.use_key(api_key)

    # -- identity -------------------------------------------------------------------
    @property
    def api_key(self) -> str | None:
        return self._key

    def use_key(self, api_key: str | None) -> Agent | None:
        if api_key is None:
            self._key = self._agent_id = None
            return None
        agent = self.market.authenticate(api_key)
        self._key, self._agent_id = api_key, agent.id
        return agent

    def _me(self) -> str:
        if self._agent_id is None:
            raise NoIdentity("choose or register an agent first")
        return self._agent_id

    def register(self, **fields: Any) -> Registration:
        registration = self.market.register_agent(**fields)
        self._key, self._agent_id = registration.api_key, registration.agent.id
        return registration

    def me(self) -> Agent:
        return self.market.get_agent(self._me())

    def update_me(self, **changes: Any) -> Agent:
        return self.market.update_agent(self._me(), **changes)

    def rotate_key(self) -> str:
        self._key = self.market.rotate_key(self._me())
        return self._key

    # -- browsing -------------------------------------------------------------------
    def list_tasks(
        self,
        *,
        status: str | None = None,
        capability: str | None = None,
        search: str | None = None,
        order: str = "newest",
        mine: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Task]:
        owner = _mine_filter(mine, self._me() if mine else None)
        items = self.market.list_tasks(status, capability, limit, offset, search=search, order=order, **owner)
        total = self.market.count_tasks(status, capability, search=search, **owner)
        return Page(items, total, limit, offset)

    def get_task(self, task_id: str) -> Task:
        task = self.market.get_task(task_id)
        if self._agent_id not in (task.poster_id, task.assigned_to):
            task = replace(task, result=None)  # results are for the poster and assignee only
        return task

    def task_timeline(self, task_id: str) -> list[Event]:
        return self.market.task_timeline(task_id)

    def list_agents(
        self,
        *,
        capability: str | None = None,
        search: str | None = None,
        order: str = "newest",
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Agent]:
        items = self.market.list_agents(capability, limit, offset, search=search, order=order)
        return Page(items, self.market.count_agents(capability, search=search), limit, offset)

    def get_agent(self, agent_id: str) -> Agent:
        return self.market.get_agent(agent_id)

    def stats(self) -> Stats:
        return self.market.stats()

    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        return self.market.events(after, limit)

    def change_token(self) -> Any:
        # data_version moves on other connections' commits; the newest event covers
        # this process's own, so the pair changes on any change at all.
        latest = self.market.recent_events(1)
        return (self.market.data_version(), latest[0].seq if latest else 0)

    # -- acting ---------------------------------------------------------------------
    def post_task(self, *, title: Any, description: Any, budget: Any, required_capabilities: Any) -> Task:
        return self.market.post_task(
            self._me(), title=title, description=description, budget=budget,
            required_capabilities=required_capabilities,
        )

    def accept_task(self, task_id: str) -> Task:
        return self.market.accept_task(task_id, self._me())

    def complete_task(self, task_id: str, result: str) -> Task:
        return self.market.complete_task(task_id, self._me(), result)

    def cancel_task(self, task_id: str) -> Task:
        return self.market.cancel_task(task_id, self._me())

    def release_task(self, task_id: str) -> Task:
        return self.market.release_task(task_id, self._me())

    def rate_task(self, task_id: str, rating: int) -> Task:
        return self.market.rate_task(task_id, self._me(), rating)

    def execute(self, agent_id: str, task_description: str, budget: int) -> ExecutionResult:
        me = self._me()
        task = self.market.execute(me, agent_id, task_description, budget)
        return ExecutionResult(task_id=task.id, result=task.result or "", balance=self.market.balance(me))

    def wallet(self) -> Wallet:
        return self.market.wallet(self._me())

    def transactions(self, limit: int = 20, offset: int = 0) -> Page[Transaction]:
        me = self._me()
        return Page(self.market.transactions(me, limit, offset), self.market.count_transactions(me), limit, offset)

    def webhook(self) -> Webhook:
        return self.market.webhook(self._me())

    def set_webhook(self, url: str | None) -> Webhook:
        return self.market.set_webhook(self._me(), url)

    def webhook_deliveries(self, limit: int = 20) -> list[Delivery]:
        return self.market.webhook_deliveries(self._me(), limit)

    def close(self) -> None:
        if self._owns:
            self.market.close()


def _mine_filter(mine: str | None, agent_id: str | None) -> dict[str, str]:
    if mine is None:
        return {}
    if mine == "posted":
        return {"poster_id": agent_id or ""}
    if mine == "assigned":
        return {"assigned_to": agent_id or ""}
    raise ValidationError("mine", "mine must be 'posted' or 'assigned'")
