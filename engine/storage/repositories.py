"""The storage seam: one repository per area, each a Protocol the engine's services use.

A transaction (:class:`MarketTx`) offers one repository per area (``tx.agents``,
``tx.tasks``, ``tx.ledger``, ``tx.events``, ``tx.outbox``, ``tx.idempotency``,
``tx.registrations``, ``tx.settings``). Repositories take and return records (``engine.records``,
``engine.queries``) and own their column encoding (JSON lists, settings, joined
columns): the services never see a row. The SQLite classes live beside this module
(``*_sql.py``); another database stands behind the same engine by implementing these
Protocols and a :class:`Store`.

Every method runs inside the transaction it belongs to; nothing commits by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..queries import AgentQuery, DeliveryQuery, EventQuery, TaskQuery, TransactionQuery
from ..records import (
    Agent,
    Attempt,
    Delivery,
    DueDelivery,
    Event,
    IdempotencyRecord,
    Invite,
    LedgerAudit,
    Task,
    TaskChange,
    Transaction,
    WalletFigures,
    WebhookSettings,
)


class AgentRepository(Protocol):
    """Agents, their capabilities, keys and webhook settings."""

    def insert(self, agent: Agent, *, api_key_hash: str, webhook_secret: str | None) -> None:
        """Store a new agent (and index its capabilities).

        Raises:
            NameTaken: another agent has the name, in any letter case (a race the caller lost).
        """

    def get(self, agent_id: str) -> Agent | None:
        """The agent, or None."""

    def by_key_hash(self, key_hash: str) -> Agent | None:
        """The agent whose API key hashes to ``key_hash``, or None."""

    def key_generation(self) -> int:
        """A number that changes whenever any agent's keys change (rotation, expiry set, removal)."""

    def by_previous_key_hash(self, key_hash: str, now: float) -> Agent | None:
        """The agent whose rotated-out key hashes to ``key_hash`` and is still valid at ``now``
        (unix seconds), or None."""

    def id_by_name(self, name: str) -> str | None:
        """The id of the agent whose name reads as ``name`` (``validation.name_key``), or None."""

    def update(self, agent_id: str, changes: Mapping[str, Any]) -> None:
        """Change profile fields, named as :class:`~engine.records.Agent`'s (already validated)."""

    def set_key_hash(self, agent_id: str, key_hash: str, previous_expires_at: float) -> None:
        """Replace the agent's API key hash; the old one stays valid until ``previous_expires_at``."""

    def webhook_secret(self, agent_id: str) -> str | None:
        """The agent's webhook signing secret (None when it has none, or no such agent)."""

    def set_webhook(self, agent_id: str, url: str | None, secret: str | None) -> None:
        """Store the agent's webhook URL and signing secret."""

    def webhook_settings(self, agent_id: str) -> WebhookSettings | None:
        """The agent's webhook URL, secrets and choices, or None when there is no such agent."""

    def set_webhook_choices(self, agent_id: str, events: Sequence[str], all_tasks: bool) -> None:
        """Store the events the agent's webhook subscribes to, and whether it hears of every task."""

    def set_webhook_secret(self, agent_id: str, secret: str, previous: str | None, previous_until: float | None) -> None:
        """Store a new signing secret, and the one it replaces with when (unix seconds) it stops signing."""

    def subscribes(self, agent_id: str, event: str) -> bool:
        """Whether the agent has a webhook URL and subscribes it to ``event``."""

    def turn_webhook_off(self, agent_id: str, url: str) -> bool:
        """Clear the agent's webhook URL if it is still ``url``.

        Returns:
            True if it was cleared.
        """

    def add_rating(self, agent_id: str, rating: int) -> None:
        """Count one more rating of ``rating`` stars for the agent."""

    def count_completed(self, agent_id: str) -> None:
        """Count one more completed task for the agent."""

    def count_missed_claim(self, agent_id: str) -> None:
        """Count one more lapsed claim window for the agent."""

    def count_dispute_lost(self, agent_id: str) -> None:
        """Count one more dispute the agent lost."""

    def page(self, query: AgentQuery, after: tuple[Any, ...] | None) -> tuple[list[Agent], tuple[Any, ...] | None]:
        """One page of the agents ``query`` selects, in its order, starting after sort key ``after``
        (then ``query.offset``); and the sort key of its last row when more rows follow."""

    def list(self, query: AgentQuery) -> list[Agent]:
        """One page of the agents ``query`` selects, in its order."""

    def count(self, query: AgentQuery | None = None) -> tuple[int, bool]:
        """How many agents ``query`` selects (all, when None; paging ignored), and whether that
        is a lower bound (a text search counted past the cap)."""

    def webhook_receivers(self, capabilities: Sequence[str], exclude_id: str, event: str) -> list[str]:
        """Ids of agents with a webhook subscribed to ``event`` whose capabilities overlap
        ``capabilities`` or that hear of all tasks, but not ``exclude_id``, oldest first."""


class TaskRepository(Protocol):
    """Tasks and their required capabilities."""

    def insert(self, task: Task) -> None:
        """Store a new task (and index its required capabilities)."""

    def get(self, task_id: str) -> Task | None:
        """The task with its escrow now, or None."""

    def for_change(self, task_id: str, acceptor_id: str | None = None) -> TaskChange | None:
        """The task and what a change of it needs (see :class:`~engine.records.TaskChange`), or None.

        Args:
            acceptor_id: also read this agent's capabilities.
        """

    def update(self, task: Task, before: Task | None = None) -> None:
        """Store the task's changeable fields: status, assigned_to, result, rating, updated_at,
        the timers (claim_expires_at, submitted_at, review_ends_at, and ``due_at``) and the dispute's;
        given the task as it was (``before``), only those that differ."""

    def due(self, now: str, limit: int) -> list[tuple[str, str]]:
        """``(id, status)`` of up to ``limit`` tasks whose current timer lapsed at or before ``now``, soonest first."""

    def page(self, query: TaskQuery, after: tuple[Any, ...] | None) -> tuple[list[Task], tuple[Any, ...] | None]:
        """One page of the tasks ``query`` selects (as :meth:`AgentRepository.page`)."""

    def list(self, query: TaskQuery) -> list[Task]:
        """One page of the tasks ``query`` selects, in its order."""

    def count(self, query: TaskQuery) -> tuple[int, bool]:
        """How many tasks ``query`` selects (paging ignored), and whether that is a lower bound
        (a count past the cap, where the counters cannot answer)."""

    def running_direct(self, updated_before: str) -> list[str]:
        """Ids of direct tasks still ``assigned`` whose last change is older than ``updated_before``."""


class LedgerRepository(Protocol):
    """The double-entry ledger: accounts with cached balances and append-only transfers."""

    def open_account(self, account_id: str) -> None:
        """Open an agent's wallet or a task's escrow (named as ``ledger_accounts`` names them) at balance 0.

        Raises:
            sqlite3.IntegrityError: it exists already. LookupError: its agent or task does not exist.
        """

    def ensure_account(self, account_id: str) -> None:
        """Open one of the platform's accounts unless it exists."""

    def balance(self, account_id: str) -> int | None:
        """The account's balance, or None when there is no such account."""

    def transfer(self, source: str, target: str, amount: int, kind: str, task_id: str | None, at: str,
                 memo: str | None = None) -> bool:
        """Move ``amount`` from ``source`` to ``target`` as one recorded transfer (``memo``: why, if said).

        Returns:
            False, having changed nothing, when ``source`` is missing or holds less than
            ``amount`` (issuance may go negative); True once the transfer is recorded.

        Raises:
            LookupError: ``target`` does not exist (a bug: the caller must roll back).
        """

    def transfer_split(self, source: str, parts: list[tuple[str, int, str]], task_id: str | None, at: str) -> bool:
        """Move credits from ``source`` to several ``(target, amount, kind)``, in order; 0 amounts skipped.

        Returns:
            False when ``source`` could not cover every part (earlier parts may have moved:
            the caller must roll back).

        Raises:
            LookupError: a target does not exist.
        """

    def wallet_transactions(self, agent_id: str, limit: int, offset: int) -> list[Transaction]:
        """Transfers in or out of the agent's wallet, newest first, as the wallet saw them."""

    def page(self, query: TransactionQuery, after: tuple[Any, ...] | None) -> tuple[list[Transaction],
                                                                                    tuple[Any, ...] | None]:
        """One page of an agent's wallet history (as :meth:`AgentRepository.page`)."""

    def count(self, query: TransactionQuery) -> tuple[int, bool]:
        """How many transfers touched the query's wallet (never a lower bound)."""

    def count_wallet_transactions(self, agent_id: str) -> int:
        """How many transfers touched the agent's wallet."""

    def wallet_figures(self, agent_id: str) -> WalletFigures:
        """The sums behind the agent's wallet view."""

    def totals(self) -> dict[str, int]:
        """The sum of balances per account kind, and ``transfers``: how many transfers exist."""

    def total(self) -> int:
        """The sum of every account's balance (0 when the books balance)."""

    def negative_accounts(self) -> list[dict[str, Any]]:
        """Accounts on the wrong side of zero (at most 100)."""

    def audit(self, escrowed: Sequence[str]) -> LedgerAudit:
        """The checks that read every transfer, account and task (at most 100 rows each, oldest first):
        tasks whose escrow is not their budget while in one of the ``escrowed`` statuses, or not 0
        after; tasks whose escrow did not receive exactly their budget once, or did not give out
        what it no longer holds (all of it outside the ``escrowed`` statuses, none inside); accounts
        whose cached balance is not the sum of their transfers; escrows holding credits without a task."""

    def unbalanced_disputes(self) -> list[dict[str, Any]]:
        """Settled disputes whose transfers break SPEC §10's arithmetic (at most 100): the worker's pay
        and the fee must sum to ``p = floor(budget * worker_share / 100)``, the poster's refund to
        ``budget - p``."""

    def wallets_without_agents(self) -> list[dict[str, Any]]:
        """Wallets that belong to no agent (at most 100)."""


class EventRepository(Protocol):
    """Market events: task timelines and the live feed."""

    def add(self, type_: str, task_id: str | None, agent_id: str | None, at: str, data: Mapping[str, Any]) -> int:
        """Record an event.

        Returns:
            Its sequence number.
        """

    def after(self, seq: int, limit: int) -> list[Event]:
        """Events with ``seq`` greater than ``seq``, oldest first."""

    def matching(self, seq: int, limit: int, types: Sequence[str] | None, involving: str | None) -> list[Event]:
        """Events after ``seq``, oldest first, of ``types`` (all when None) and, with
        ``involving``, only those by that agent or about a task it posted or is assigned."""

    def newest_seq(self) -> int:
        """The newest event's seq (0 when there is none)."""

    def page(self, query: EventQuery, after: tuple[Any, ...] | None) -> tuple[list[Event], tuple[Any, ...] | None]:
        """One page of events after ``query.after`` (and after the seq ``after``, a cursor's), oldest
        first; and the seq of its last one when more follow."""

    def count(self, query: EventQuery) -> tuple[int, bool]:
        """How many events come after ``query.after`` (exact)."""

    def latest(self, limit: int) -> list[Event]:
        """The newest events, newest first."""

    def for_task(self, task_id: str) -> list[Event]:
        """The task's events, oldest first."""


class OutboxRepository(Protocol):
    """The webhook outbox: queued deliveries, their attempts, and the delivery lease.

    A delivery is claimed by one process at a time, until its claim expires.

    Attributes:
        concurrent_claims: whether processes may claim at once (PostgreSQL: a claim locks its
            rows, ``FOR UPDATE SKIP LOCKED``); if not (SQLite), only the holder of the
            delivery lease claims.
    """

    concurrent_claims: bool

    def enqueue(self, delivery_id: str, event: str, agent_id: str, task_id: str | None, payload: str,
                at: str) -> None:
        """Queue a pending delivery, due at once."""

    def take_lease(self, name: str, holder: str, now: float, expires_at: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` unless another holder's lease is live.

        Returns:
            Whether ``holder`` holds it now.
        """

    def holds_lease(self, name: str, holder: str, now: float) -> bool:
        """Whether ``holder`` holds lease ``name`` at ``now``."""

    def drop_lease(self, name: str, holder: str) -> None:
        """Give lease ``name`` up, if ``holder`` has it."""

    def next_due_at(self) -> float | None:
        """When the earliest pending delivery is due (unix seconds), or None."""

    def due(self, now: float, limit: int) -> list[DueDelivery]:
        """The earliest due pending delivery of each agent without a live claim, earliest first,
        at most ``limit``; this transaction may claim them (no other can meanwhile)."""

    def mark_claimed(self, delivery_id: str, holder: str, attempts: int, hold_until: float, at: str) -> None:
        """Count a claim of the delivery by ``holder`` and hold it back until ``hold_until``."""

    def release(self, holder: str, now: float) -> int:
        """End ``holder``'s unsettled claims, their deliveries due at ``now``. Returns how many."""

    def give_up(self, delivery_id: str, error: str, at: str) -> None:
        """Mark the delivery failed, without an attempt, for ``error``."""

    def settle(self, delivery_id: str, holder: str, attempt: int, *, status: str | None,
               next_attempt_at: float | None, status_code: int | None, error: str | None, at: str) -> bool:
        """End ``holder``'s claim (its ``attempt``): record the latest outcome, change the status
        and/or next attempt when given.

        Returns:
            False, changing nothing, when that claim is no longer the delivery's (it ran out
            and another claim took the delivery).
        """

    def add_attempt(self, delivery_id: str, attempt: int, status_code: int | None, latency_ms: float,
                    error: str | None, at: str) -> None:
        """Record one attempt."""

    def for_agent(self, agent_id: str, limit: int, offset: int) -> list[Delivery]:
        """The agent's deliveries, newest first."""

    def page(self, query: DeliveryQuery, after: tuple[Any, ...] | None) -> tuple[list[Delivery],
                                                                                 tuple[Any, ...] | None]:
        """One page of the agent's deliveries, newest first, after the sort key ``after`` (a cursor's)
        then ``query.offset``; and the sort key of its last one when more follow."""

    def count(self, query: DeliveryQuery) -> tuple[int, bool]:
        """How many deliveries the agent has, and whether that is a lower bound (counted to a cap)."""

    def get(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""

    def requeue(self, delivery_id: str, at: str) -> None:
        """Make a delivery pending again, due at once, with a fresh count of attempts."""

    def attempts(self, delivery_id: str) -> list[Attempt]:
        """Every attempt of one delivery, first first."""


class IdempotencyRepository(Protocol):
    """Idempotency-Key records: the first response to a key, per agent."""

    def get(self, agent_id: str, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, or None."""

    def claim(self, agent_id: str, key: str, fingerprint: str, at: str) -> None:
        """Mark the key as running, replacing any earlier record of it."""

    def finish(self, agent_id: str, key: str, status_code: int, response: str) -> None:
        """Store the response to the request that claimed the key."""

    def release(self, agent_id: str, key: str) -> None:
        """Forget a claim that is still running (its request was refused before it ran)."""

    def purge(self, before: str) -> int:
        """Delete records created before ``before``.

        Returns:
            How many were deleted.
        """


class RegistrationRepository(Protocol):
    """What limits free credits (SPEC §11): grants per email, invite codes, registrations per address."""

    def claim_grant(self, email_key: str, agent_id: str, at: str) -> bool:
        """Record that ``email_key`` got its registration grant. False when it already had one."""

    def recent_origins(self, address: str, since: float) -> tuple[int, float | None]:
        """How many registrations came from ``address`` after ``since``, and the oldest one's time."""

    def add_origin(self, address: str, at: float, forget_before: float) -> None:
        """Record a registration from ``address``; forget every one older than ``forget_before``."""

    def add_invites(self, code_hashes: Sequence[str], at: str) -> None:
        """Store new, unused invite codes (their hashes)."""

    def use_invite(self, code_hash: str, agent_id: str, at: str) -> bool:
        """Mark the code used by ``agent_id``. False when it is unknown or already used."""

    def invites(self, limit: int, offset: int) -> list[Invite]:
        """Invite codes, newest first."""


class SettingsRepository(Protocol):
    """Market-wide settings, stored as JSON values (the repository decodes them)."""

    def get(self, name: str) -> Any:
        """The setting's value, or None when it is not stored."""

    def all(self) -> dict[str, Any]:
        """Every stored setting."""

    def put(self, name: str, value: Any) -> None:
        """Store the setting's value."""


class CounterRepository(Protocol):
    """Counters of tasks, agents and wallet transfers, kept by the storage with every change."""

    def get(self, kind: str, key: str = "", status: str | None = None) -> int:
        """The counter of (kind, key, status), or its sum over statuses when ``status`` is None."""

    def by_status(self, kind: str = "tasks", key: str = "") -> dict[str, int]:
        """The counters of (kind, key) per status, statuses with none left out."""

    def mismatches(self) -> list[dict[str, Any]]:
        """Counters that differ from a recount of the tables (at most 100)."""


class MarketTx(Protocol):
    """One open transaction: a repository per area, all in the same snapshot."""

    agents: AgentRepository
    tasks: TaskRepository
    ledger: LedgerRepository
    events: EventRepository
    outbox: OutboxRepository
    idempotency: IdempotencyRepository
    registrations: RegistrationRepository
    settings: SettingsRepository
    counters: CounterRepository


class RateBuckets(Protocol):
    """Per-API-key token buckets kept by the store, shared by every process on the market."""

    def spend(self, digest: bytes, capacity: float, rate: float) -> float:
        """Take one token from the bucket named ``digest`` (at most ``capacity`` tokens, refilled
        at ``rate`` tokens a second; full when new).

        Returns:
            0.0 when a token was taken; else the seconds until one is there (nothing taken).

        Raises:
            ServiceUnavailable: the database cannot be reached.
        """


class Store(Protocol):
    """A market database: transactions, and what a live view polls."""

    path: str

    def write(self) -> AbstractContextManager[MarketTx]:
        """One write transaction, committed whole or rolled back on any error; writers take turns."""

    def claiming_write(self) -> AbstractContextManager[MarketTx]:
        """A write transaction that changes only rows it locked itself (webhook deliveries it
        claims or settles) and adds no events: it need not take the writers' turn where writers
        take turns across processes (PostgreSQL), and other processes are not told of it."""

    def read(self) -> AbstractContextManager[MarketTx]:
        """A read transaction: one consistent snapshot."""

    def snapshot(self) -> AbstractContextManager[None]:
        """Make every ``read()`` of this thread inside the block share one snapshot; a
        ``write()`` inside raises."""

    def data_version(self) -> int:
        """A number that changes whenever another connection commits."""

    def rate_buckets(self) -> RateBuckets | None:
        """The per-key request allowances every process on this market spends from, or None
        where each server process keeps its own (SQLite: one machine, see ``server/_ratelimit``)."""

    def checkpoint(self) -> None:
        """Make every committed change durable in the main file now (a no-op where that means nothing)."""

    def close(self) -> None:
        """Close every connection."""
