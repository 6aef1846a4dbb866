"""The small typed records the engine returns. Immutable; no behaviour beyond shape.

The records a list reads by the page (:class:`Task`, :class:`Delivery`, :class:`Transaction`,
:class:`Event`) are plain slotted dataclasses, hashed by value
(``unsafe_hash``), rather than ``frozen=True`` ones, whose ``__init__`` sets every field
through ``object.__setattr__``: ten times the cost (a Task: 3.7 µs against 0.34), which was
a sixth of an HTTP list request. They are still never assigned once made: change one with
``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .states import TIMER_FIELDS


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent with every field; ``views.agent_public`` decides what others may see."""

    id: str
    name: str
    description: str
    capabilities: tuple[str, ...]
    price_per_task: int
    owner_email: str
    endpoint_url: str | None
    system_prompt: str | None
    webhook_url: str | None
    reputation_score: float | None
    rating_count: int
    total_tasks: int
    created_at: str
    missed_claims: int = 0  # claim windows that lapsed while it held a task
    disputes_lost: int = 0  # disputes settled with under half the budget for it

    @property
    def executable(self) -> bool:
        """Whether the agent can be hired directly (it has an endpoint or a prompt)."""
        return bool(self.endpoint_url or self.system_prompt)


@dataclass(frozen=True, slots=True)
class Registration:
    """A newly registered agent and its secrets, which are shown only this once."""

    agent: Agent
    api_key: str
    webhook_secret: str | None
    balance: int


@dataclass(frozen=True, slots=True)
class Webhook:
    """An agent's webhook settings. ``secret`` is set only right after it was changed.

    Attributes:
        events: the events it subscribes to (``engine.event_catalog``).
        all_tasks: it hears of every task, whatever the task's required capabilities.
        previous_secret_until: when the secret a rotation replaced stops signing (ISO
            time), while it still signs.
    """

    agent_id: str
    url: str | None
    secret: str | None = None
    events: tuple[str, ...] = ("task.posted",)
    all_tasks: bool = False
    previous_secret_until: str | None = None


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see the module's docstring
class Task:
    """A task and the credits its escrow holds now."""

    id: str
    title: str
    description: str
    budget: int
    required_capabilities: tuple[str, ...]
    status: str
    kind: str  # "market" (posted) or "direct" (a hire through /api/execute)
    poster_id: str
    assigned_to: str | None
    result: str | None
    rating: int | None
    escrow: int
    created_at: str
    updated_at: str
    deadline: str | None = None  # after it an open task expires (None: never; direct hires)
    claim_seconds: int = 86_400  # how long an assignee has to complete
    review_hours: int = 0  # 0: paid on complete; else the poster's review window
    evaluator_id: str | None = None  # settles a dispute instead of the operator
    claim_expires_at: str | None = None  # while assigned: when the claim window lapses
    submitted_at: str | None = None  # when the result was submitted for review
    review_ends_at: str | None = None  # while submitted: when it is approved on its own
    dispute_reason: str | None = None  # the poster's reason for rejecting
    worker_share: int | None = None  # a settled dispute's share for the worker, 0-100
    resolution_note: str | None = None  # the settler's note

    @property
    def due_at(self) -> str | None:
        """When the timer of its current status lapses (see ``states.TIMER_FIELDS``), or None."""
        name = TIMER_FIELDS.get(self.status)  # type: ignore[call-overload]
        return None if name is None else getattr(self, name)


@dataclass(frozen=True, slots=True)
class Wallet:
    """An agent's credits. ``earned``: paid for completed work; ``spent``: paid to others and fees."""

    agent_id: str
    balance: int
    escrowed: int
    earned: int
    spent: int


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see the module's docstring
class Delivery:
    """One webhook delivery (an event for one agent) and how its latest attempt went."""

    id: str
    event: str
    agent_id: str
    task_id: str | None
    status: str  # pending | delivered | failed
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str
    updated_at: str


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see the module's docstring
class Transaction:
    """One transfer as an agent's wallet saw it: ``amount`` is signed (+ in, - out)."""

    id: int
    kind: str
    amount: int
    balance_after: int
    task_id: str | None
    counterparty: str
    created_at: str
    #: Why the credits moved, when an operator said so (``agentmarket grant --reason``).
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class RegistrationTerms:
    """What registering takes on a market (SPEC §11)."""

    requires_invite: bool
    #: Credits the first agent of an owner email receives; later agents of that email get 0.
    registration_grant: int


@dataclass(frozen=True, slots=True)
class Invite:
    """An invite code as the market keeps it: only a hash of the code, and who used it."""

    id: str  # the first characters of the code's hash, enough to tell codes apart
    created_at: str
    used_by: str | None
    used_at: str | None


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see the module's docstring
class Event:
    """One thing that happened in the market, for timelines and the live feed."""

    seq: int
    type: str
    task_id: str | None
    agent_id: str | None
    created_at: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stats:
    """Market-wide figures."""

    agents: int
    tasks: dict[str, int]
    credits_issued: int
    credits_in_wallets: int
    credits_in_escrow: int
    fees_collected: int
    transfers: int


@dataclass(frozen=True, slots=True)
class Check:
    """One ledger invariant: whether it holds and, if not, the rows that break it."""

    name: str
    holds: bool
    description: str
    offending: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """The result of :meth:`engine.Market.verify_ledger`."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.holds for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.holds]


# -- rows the storage repositories hand to the services ----------------------------------
@dataclass(frozen=True, slots=True)
class LedgerAudit:
    """What the ledger's checks over every transfer, account and task found: the offending rows
    of each (at most 100, oldest first), as the checks of the same names report them."""

    escrow_mismatches: tuple[dict[str, Any], ...]
    escrow_flows: tuple[dict[str, Any], ...]
    cached_balances: tuple[dict[str, Any], ...]
    stray_escrows: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class TaskChange:
    """Everything a change of a task needs, read at once in the changing transaction.

    Attributes:
        task: the task as stored now.
        poster_has_webhook: whether its poster has a webhook URL (to notify).
        acceptor_capabilities: the would-be acceptor's capabilities; None when no acceptor
            was asked for, or there is no such agent.
        fee_percent: the market's ``fee_percent`` setting as stored now.
    """

    task: Task
    poster_has_webhook: bool
    acceptor_capabilities: tuple[str, ...] | None
    fee_percent: int


@dataclass(frozen=True, slots=True)
class WalletFigures:
    """Sums behind a wallet view."""

    escrowed: int  # held now in the escrow of the agent's open and assigned tasks
    earned: int  # paid out to the agent
    escrowed_ever: int  # moved from the wallet into escrows
    refunded: int  # moved back from escrows


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A pending delivery that is due, with its agent's current webhook URL and secret(s)."""

    id: str
    event: str
    agent_id: str
    payload: str
    attempts: int
    webhook_url: str | None
    webhook_secret: str | None
    previous_secret: str | None = None  # a rotated-out secret that still signs


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """An agent's stored webhook settings, secrets included (never shown whole)."""

    url: str | None
    secret: str | None
    events: tuple[str, ...]
    all_tasks: bool
    previous_secret: str | None
    previous_until: float | None  # unix seconds


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded attempt of a webhook delivery."""

    attempt: int
    status_code: int | None
    latency_ms: float | None
    error: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What the market holds for one (agent, Idempotency-Key)."""

    fingerprint: str
    state: str  # running | done
    status_code: int | None
    response: str | None
    created_at: str
