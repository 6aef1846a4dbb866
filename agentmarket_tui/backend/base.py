"""The seam between the app (TUI and CLI) and a market.

``Backend`` is the one interface the terminal app and the command line use; it has
two implementations: ``LocalBackend`` (the engine in-process, on a SQLite file) and
``RemoteBackend`` (the HTTP API through httpx). Both return the engine's records and
raise the engine's typed errors, so the app cannot tell them apart.

A backend acts as at most one agent at a time (its API key); browsing needs none.
Every method may block on disk or network: the TUI calls them from workers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from engine.records import Agent, Delivery, Event, Registration, Stats, Task, Transaction, Wallet, Webhook

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the total number of items across all pages."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What a direct hire produced."""

    task_id: str
    result: str
    balance: int | None = None


class Backend(ABC):
    """A market, as seen by one (optional) agent identity.

    Every method raises ``engine.errors.MarketError`` subclasses for the market's
    refusals (``ValidationError``, ``InsufficientCredits``, ``NotFound``, ...),
    ``backend.errors.NoIdentity`` when an action needs an agent and none is
    selected, and ``backend.errors.ConnectionFailed`` when a remote market
    cannot be reached.
    """

    #: A short description of where the market is, for titles and status bars.
    location: str

    # -- identity -------------------------------------------------------------------
    @property
    @abstractmethod
    def api_key(self) -> str | None:
        """The API key of the agent this backend acts as, if any."""

    @abstractmethod
    def use_key(self, api_key: str | None) -> Agent | None:
        """Act as the agent owning ``api_key`` (None: act as nobody).

        Returns:
            That agent, or None.

        Raises:
            InvalidApiKey: no agent has this key.
        """

    @abstractmethod
    def register(self, **fields: Any) -> Registration:
        """Register a new agent (fields as ``Market.register_agent``) and act as it.

        Returns:
            The registration, with the API key shown this once.

        Raises:
            ValidationError, NameTaken.
        """

    @abstractmethod
    def me(self) -> Agent:
        """The current agent's own profile. Raises NoIdentity."""

    @abstractmethod
    def update_me(self, **changes: Any) -> Agent:
        """Change the current agent's profile. Raises NoIdentity, ValidationError, NameTaken."""

    @abstractmethod
    def rotate_key(self) -> str:
        """Replace the current agent's API key and act with the new one. Returns the new key."""

    # -- browsing (no identity needed) -----------------------------------------------
    @abstractmethod
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
        """A page of tasks.

        Args:
            status: only tasks in this state.
            capability: only tasks that require this capability.
            search: only tasks whose title contains this text (any case).
            order: newest, oldest, budget_high or budget_low.
            mine: "posted" or "assigned" for the current agent's own tasks.
            limit: 1–100.
            offset: how many to skip.

        Raises:
            ValidationError: a bad filter; NoIdentity for ``mine`` without an agent.
        """

    @abstractmethod
    def get_task(self, task_id: str) -> Task:
        """One task (its result only for its poster and assignee). Raises NotFound."""

    @abstractmethod
    def task_timeline(self, task_id: str) -> list[Event]:
        """What happened to a task, oldest first. Raises NotFound."""

    @abstractmethod
    def list_agents(
        self,
        *,
        capability: str | None = None,
        search: str | None = None,
        order: str = "newest",
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Agent]:
        """A page of public agent profiles; ``order``: newest, reputation, price, tasks, name."""

    @abstractmethod
    def get_agent(self, agent_id: str) -> Agent:
        """One agent's public profile. Raises NotFound."""

    @abstractmethod
    def stats(self) -> Stats:
        """Market-wide figures."""

    @abstractmethod
    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        """Market events after sequence number ``after``, oldest first (the live feed)."""

    @abstractmethod
    def change_token(self) -> Any:
        """A cheap value that differs whenever the market may have changed (poll it)."""

    # -- acting as the current agent --------------------------------------------------
    @abstractmethod
    def post_task(self, *, title: Any, description: Any, budget: Any, required_capabilities: Any) -> Task:
        """Post a task, escrowing its budget. Raises ValidationError, InsufficientCredits, NoIdentity."""

    @abstractmethod
    def accept_task(self, task_id: str) -> Task:
        """Accept an open task. Raises InvalidState, OwnTask, MissingCapabilities, NotFound, NoIdentity."""

    @abstractmethod
    def complete_task(self, task_id: str, result: str) -> Task:
        """Complete an assigned task with a result. Raises NotAssignee, InvalidState, ValidationError."""

    @abstractmethod
    def cancel_task(self, task_id: str) -> Task:
        """Cancel an own open task (full refund). Raises NotPoster, InvalidState."""

    @abstractmethod
    def release_task(self, task_id: str) -> Task:
        """Give an assigned task back to the market. Raises NotAssignee, InvalidState."""

    @abstractmethod
    def rate_task(self, task_id: str, rating: int) -> Task:
        """Rate an own completed task 1–5, once. Raises NotPoster, InvalidState, AlreadyRated."""

    @abstractmethod
    def execute(self, agent_id: str, task_description: str, budget: int) -> ExecutionResult:
        """Hire an agent directly and wait for its result.

        Raises:
            AgentFailed (refunded), LLMNotConfigured, AgentNotExecutable,
            InsufficientCredits, ValidationError, NotFound, NoIdentity.
        """

    @abstractmethod
    def wallet(self) -> Wallet:
        """The current agent's wallet. Raises NoIdentity."""

    @abstractmethod
    def transactions(self, limit: int = 20, offset: int = 0) -> Page[Transaction]:
        """The current agent's wallet history, newest first. Raises NoIdentity."""

    @abstractmethod
    def webhook(self) -> Webhook:
        """The current agent's webhook (URL masked as the API shows it, no secret)."""

    @abstractmethod
    def set_webhook(self, url: str | None) -> Webhook:
        """Set or clear the webhook URL; the returned Webhook carries the secret, shown once."""

    @abstractmethod
    def webhook_deliveries(self, limit: int = 20) -> list[Delivery]:
        """The current agent's recent webhook deliveries, newest first."""

    def close(self) -> None:
        """Release connections. The default does nothing."""
