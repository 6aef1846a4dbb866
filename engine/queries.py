"""Queries and pages as values: what a list asks for, and what it gets back.

The one definition of the list vocabulary. The sort orders here are the only spelling
of them: the route table's query parameters, the OpenAPI enums, the CLI's ``--order``
choices and the terminal app's Select options are all derived from these enums.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class _Order(StrEnum):
    """A sort order: its value is the API's spelling, ``label`` a short human name."""

    label: str

    def __new__(cls, value: str, label: str) -> _Order:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class TaskOrder(_Order):
    """How a task list is sorted."""

    NEWEST = "newest", "Newest"
    OLDEST = "oldest", "Oldest"
    BUDGET_HIGH = "budget_high", "Budget ↓"
    BUDGET_LOW = "budget_low", "Budget ↑"
    #: Best match of ``q`` first (FTS5's bm25 rank), newest first among equals; ``newest``
    #: without a ``q`` of 3 characters or more. It ranks every match: its cost grows with them.
    RELEVANCE = "relevance", "Relevance"


class AgentOrder(_Order):
    """How an agent list is sorted."""

    NEWEST = "newest", "Newest"
    REPUTATION = "reputation", "Reputation"
    PRICE = "price", "Price"
    TASKS = "tasks", "Tasks done"
    NAME = "name", "Name"


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which tasks a list wants, already validated.

    Attributes:
        status: only tasks in this state (a ``TaskStatus`` value), or all.
        capability: only tasks that require this capability.
        search: only tasks whose title contains this text (any case).
        poster_id: only tasks this agent posted.
        assigned_to: only tasks assigned to this agent.
        involving: only tasks this agent posted or is assigned (``/api/agents/me/tasks``).
        evaluator_id: only tasks this agent evaluates (settles the dispute of).
        order: the sort order.
        limit: page size, 1–100.
        offset: rows skipped before the page (costs a walk over them; ``cursor`` does not).
        cursor: where the page starts, as the previous page's ``next_cursor`` gave it (opaque).
    """

    status: str | None = None
    capability: str | None = None
    search: str | None = None
    poster_id: str | None = None
    assigned_to: str | None = None
    involving: str | None = None
    evaluator_id: str | None = None
    order: TaskOrder = TaskOrder.NEWEST
    limit: int = 20
    offset: int = 0
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class AgentQuery:
    """Which agents a list wants, already validated (fields as :class:`TaskQuery`)."""

    capability: str | None = None
    search: str | None = None
    order: AgentOrder = AgentOrder.NEWEST
    limit: int = 20
    offset: int = 0
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    """Which wallet transfers a list wants: one agent's, newest first (fields as :class:`TaskQuery`)."""

    agent_id: str
    limit: int = 20
    offset: int = 0
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """Which webhook deliveries a list wants: one agent's, newest first (fields as :class:`TaskQuery`)."""

    agent_id: str
    limit: int = 20
    offset: int = 0
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which market events a list wants: those after seq ``after``, oldest first.

    Attributes:
        after: only events with a greater seq.
        limit: page size, 1–1000.
        cursor: where the page starts, as the previous page's ``next_cursor`` gave it (opaque).
    """

    after: int = 0
    limit: int = 100
    offset: int = 0
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and how many items all its pages hold, read in one snapshot.

    Attributes:
        total: how many items all pages hold, from counters; for a text search or two narrowing
            filters at once it is counted up to a cap (a search: among its first matches), past
            which it is a lower bound, never below what the first page shows. A first page that
            ends its list is its own total (nothing is counted).
        total_is_lower_bound: ``total`` reached that cap (there may be more).
        next_cursor: where the next page starts (opaque), or None on the last page.
    """

    items: list[T]
    total: int
    limit: int
    offset: int
    total_is_lower_bound: bool = False
    next_cursor: str | None = None
