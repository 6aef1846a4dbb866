"""The Market: the façade over the engine's services, one method per operation.

The server, the terminal app, the CLI and simulations act through this class. Each
method delegates to one service (``engine.services``): agents, tasks, hiring, ledger,
outbox, idempotency, admission, events. New code may use the services directly
(``market.tasks.page(query)``); the methods here stay for existing callers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from . import validation as v
from .errors import ServiceUnavailable, ValidationError
from .queries import AgentQuery, DeliveryQuery, Page, TaskQuery
from .records import (
    Agent,
    Delivery,
    Event,
    Invite,
    LedgerReport,
    Registration,
    RegistrationTerms,
    Stats,
    Task,
    Transaction,
    Wallet,
    Webhook,
)
from .services import (
    AdmissionService,
    AgentService,
    EventService,
    HiringService,
    IdempotencyService,
    LedgerService,
    MarketContext,
    Origin,
    OutboxService,
    Settings,
    TaskService,
)
from .services.agents import UNCHANGED, hash_key
from .services.context import Clock, random_token
from .services.group_commit import GroupCommit
from .services.outbox import webhook_payload
from .storage import open_store
from .storage.repositories import RateBuckets

T = TypeVar("T")

__all__ = ["Clock", "Market", "Settings", "hash_key", "webhook_payload"]

_SETTING_BOUNDS = {"fee_percent": (0, 100), "registration_grant": (0, 1_000_000), "rate_limit_per_minute": (0, 10**6),
                   "default_task_ttl": (60, 90 * 86_400), "key_grace_seconds": (0, 86_400)}
log = logging.getLogger("agentmarket.market")
#: A setting older market files stored; it now belongs to the running process only.
_RETIRED_SETTING = "allow_private_urls"
#: The public_url every file stored before it could be left unset: it means "unset".
_OLD_DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


class Market:
    """A marketplace on one SQLite file (or ``":memory:"``), or in a PostgreSQL database.

    Safe to share between threads: each thread gets its own connection, and every
    operation runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent callers
    (threads or processes on the same file) see each other's changes whole or not at all.

    Args:
        path: the market file, created with its schema if missing; ``":memory:"`` for a
            throwaway market; or a ``postgresql://`` URL (the ``postgres`` extra), whose
            database gets the schema if it has none.
        clock: returns the current time (UTC); tests pass a fixed clock.
        new_id: returns a fresh id for agents, tasks and deliveries (time-ordered UUIDs by default).
        new_token: returns 64 hex characters of secret randomness (API keys, secrets).
        allow_private_urls: let agents' URLs point at private or loopback addresses (local
            development and tests only). It lasts as long as this object and is never
            stored; a value stored by an older version is ignored (with a warning).

    Attributes:
        agents, tasks, hiring, ledger, outbox, idempotency, admission, events_feed: the services.
        context: what they share (store, clock, id and token sources, settings).
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        clock: Clock | None = None,
        new_id: Callable[[], str] | None = None,
        new_token: Callable[[], str] | None = None,
        allow_private_urls: bool = False,
    ) -> None:
        self.path = str(path)
        store = open_store(path)
        self.context = ctx = MarketContext(store, Settings(), clock=clock, new_id=new_id, new_token=new_token,
                                           allow_private_urls=allow_private_urls)
        self.ledger = LedgerService(ctx)
        self.outbox = OutboxService(ctx)
        self.agents = AgentService(ctx)
        self.tasks = TaskService(ctx, self.outbox)
        self.hiring = HiringService(ctx, self.tasks)
        self.idempotency = IdempotencyService(ctx)
        self.admission = AdmissionService(ctx)
        self.events_feed = EventService(ctx)
        self.group_commit = GroupCommit(getattr(store, "batch", None))  # a store that cannot batch: run directly
        with store.write() as tx:
            self.ledger.open_house_accounts(tx)
            stored = tx.settings.all()
            if "cursor_secret" not in stored:  # made once per market file; never an API setting
                # Not from new_token: a test's fixed token sequence stays the same with or without it.
                stored["cursor_secret"] = random_token()
                tx.settings.put("cursor_secret", stored["cursor_secret"])
            ctx.cursor_secret = bytes.fromhex(stored["cursor_secret"])
            for f in fields(Settings):
                if f.name not in stored:
                    tx.settings.put(f.name, f.default)
                    stored[f.name] = f.default
        if stored.get(_RETIRED_SETTING) is True:
            log.warning("%s: the stored setting allow_private_urls=true is ignored; private URLs are allowed only "
                        "when the process allows them (--allow-private-urls)", self.path)
        ctx.settings = Settings(**{f.name: stored[f.name] for f in fields(Settings)})
        ctx.public_url = "" if ctx.settings.public_url == _OLD_DEFAULT_PUBLIC_URL else ctx.settings.public_url

    # -- lifecycle ------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The market's settings as this process knows them."""
        return self.context.settings

    @property
    def allow_private_urls(self) -> bool:
        """Whether agents' URLs may point at private addresses, for this process (never stored)."""
        return self.context.allow_private_urls

    @allow_private_urls.setter
    def allow_private_urls(self, allowed: bool) -> None:
        self.context.allow_private_urls = allowed

    @property
    def public_url(self) -> str:
        """The address webhooks name: the stored ``public_url``, else what a server set."""
        return self.context.public_url

    @public_url.setter
    def public_url(self, url: str) -> None:
        self.context.public_url = url

    def close(self) -> None:
        """Close the market's connections (after the writes already handed to :meth:`grouped`)."""
        self.group_commit.close()
        self.context.store.close()

    def __enter__(self) -> Market:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def configure(self, **changes: Any) -> Settings:
        """Change market settings (see :class:`Settings`) and store them.

        Raises:
            ValidationError: an unknown setting or a value out of bounds.
        """
        current = self.context.settings
        known = {f.name for f in fields(Settings)}
        for name, value in changes.items():
            if name not in known:
                raise ValidationError(name, f"unknown setting {name!r}")
            expected = type(getattr(current, name))
            if type(value) is not expected:
                raise ValidationError(name, f"{name} must be of type {expected.__name__}")
            if name in _SETTING_BOUNDS:
                low, high = _SETTING_BOUNDS[name]
                if not low <= value <= high:
                    raise ValidationError(name, f"{name} must be from {low} to {high}")
        with self.context.store.write() as tx:
            for name, value in changes.items():
                tx.settings.put(name, value)
        self.context.settings = replace(current, **changes)
        if "public_url" in changes:
            self.context.public_url = self.context.settings.public_url
        return self.context.settings

    def batch(self) -> AbstractContextManager[None]:
        """Group the operations in a ``with`` block into one transaction (simulations, bulk loads).

        Each operation inside stays all-or-nothing on its own: one that raises changes
        nothing, and the others stand. The block commits them together at its end, or
        none of them if it raises. Other writers wait until it ends, so keep it short.
        """
        return self.context.store.batch()

    def grouped(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` (write operations of this market) in the next group commit and
        return what it returned once that is committed (``services.group_commit``).

        Many threads' operations share one transaction and one commit; each stays
        all-or-nothing on its own (an operation that raises changed nothing).

        Raises:
            What ``operation`` raised, or what the group's commit raised.
        """
        return self.group_commit.run(operation)

    def snapshot(self) -> AbstractContextManager[None]:
        """Read everything inside a ``with`` block from one snapshot of the market.

        The operations inside that read (lookups, lists, balances) see the same moment;
        an operation that writes raises. The server answers each GET inside one.
        """
        return self.context.store.snapshot()

    def checkpoint(self) -> None:
        """Write every committed change from the WAL into the market file now.

        A background thread does this a few times a second anyway; call it before
        copying the file, or to count that work in a benchmark.
        """
        self.context.store.checkpoint()

    def data_version(self) -> int:
        """Changes whenever another connection (thread or process) commits; cheap to poll."""
        return self.context.store.data_version()

    def rate_buckets(self) -> RateBuckets | None:
        """The per-key request allowances every server on this market shares (PostgreSQL), or
        None where each server keeps its own (SQLite)."""
        return self.context.store.rate_buckets()

    # -- agents ---------------------------------------------------------------------
    def register_agent(self, *, name: Any, capabilities: Any, owner_email: Any, description: Any = "",
                       price_per_task: Any = 0, endpoint_url: Any = None, system_prompt: Any = None,
                       webhook_url: Any = None, invite_code: Any = None, origin: Origin | None = None) -> Registration:
        """Register an agent and grant it the registration credits once per owner email
        (see :meth:`AgentService.register`)."""
        return self.agents.register(origin, name=name, capabilities=capabilities, owner_email=owner_email,
                                    description=description, price_per_task=price_per_task,
                                    endpoint_url=endpoint_url, system_prompt=system_prompt, webhook_url=webhook_url,
                                    invite_code=invite_code)

    def authenticate(self, api_key: Any) -> Agent:
        """The agent that owns ``api_key``. Raises InvalidApiKey."""
        return self.agents.authenticate(api_key)

    def get_agent(self, agent_id: str) -> Agent:
        """One agent. Raises NotFound."""
        return self.agents.get(agent_id)

    def agents_page(self, query: AgentQuery) -> Page[Agent]:
        """One page of agents and how many there are, from one snapshot."""
        return self.agents.page(query)

    def list_agents(self, capability: str | None = None, limit: Any = None, offset: Any = None, *,
                    search: str | None = None, order: str = "newest") -> list[Agent]:
        """Agents, newest first by default; ``order`` is an ``AgentOrder``.

        Raises:
            ValidationError: a bad capability, limit, offset or order.
        """
        return self.agents.page(v.agent_query(capability, limit, offset, search=search, order=order)).items

    def count_agents(self, capability: str | None = None, *, search: str | None = None) -> int:
        """How many agents ``list_agents`` would page through."""
        return self.agents.page(v.agent_query(capability, 1, search=search)).total

    def update_agent(self, agent_id: str, **changes: Any) -> Agent:
        """Change an agent's own profile fields. Raises ValidationError, NameTaken, NotFound."""
        return self.agents.update(agent_id, **changes)

    def rotate_key(self, agent_id: str) -> str:
        """Replace the agent's API key (the old one works for ``key_grace_seconds``). Returns the new key."""
        return self.agents.rotate_key(agent_id)

    def webhook(self, agent_id: str) -> Webhook:
        """The agent's webhook URL (never its secret)."""
        return self.agents.webhook(agent_id)

    def set_webhook(self, agent_id: str, webhook_url: Any = UNCHANGED, **choices: Any) -> Webhook:
        """Set (or, with None, remove) the agent's webhook URL, and/or its ``events`` and
        ``all_tasks`` choices; the secret is shown when a URL is set."""
        return self.agents.set_webhook(agent_id, webhook_url, **choices)

    def rotate_webhook_secret(self, agent_id: str) -> Webhook:
        """A new webhook secret (shown once); the old one keeps signing beside it for 24 h."""
        return self.agents.rotate_webhook_secret(agent_id)

    def test_webhook(self, agent_id: str) -> Delivery:
        """Queue a ``ping`` to the agent's webhook, due now. Raises NotFound, NoWebhook."""
        return self.outbox.ping(agent_id)

    def redeliver(self, agent_id: str, delivery_id: str) -> Delivery:
        """Queue one of the agent's delivered or failed deliveries again, due now.

        Raises:
            NotFound (not this agent's); DeliveryPending; NoWebhook.
        """
        return self.outbox.redeliver(agent_id, delivery_id)

    def webhook_secret(self, agent_id: str) -> str | None:
        """The agent's webhook signing secret, for outbound calls only."""
        return self.agents.webhook_secret(agent_id)

    def webhook_deliveries(self, agent_id: str, limit: Any = 20) -> list[Delivery]:
        """The agent's recent webhook deliveries, newest first, each with its latest attempt.

        Raises:
            NotFound; ValidationError (a bad limit).
        """
        limit, _ = v.page(limit)
        self.agents.get(agent_id)
        return self.outbox.recent(agent_id, limit)

    def webhook_deliveries_page(self, agent_id: str, limit: Any = None, offset: Any = None,
                                cursor: str | None = None) -> Page[Delivery]:
        """One page of the agent's webhook deliveries, newest first, with their total and the
        cursor of the next page. Raises NotFound; ValidationError; InvalidCursor."""
        limit, offset = v.page(limit, offset)
        self.agents.get(agent_id)
        return self.outbox.page(DeliveryQuery(agent_id, limit, offset, cursor or None))

    # -- tasks ----------------------------------------------------------------------
    def post_task(self, poster_id: str, *, title: Any, budget: Any, description: Any = "",
                  required_capabilities: Any = (), **timers: Any) -> Task:
        """Post a task; its budget moves into escrow (see :meth:`TaskService.post`).

        Args:
            timers: ``deadline``, ``claim_seconds``, ``review_hours``, ``evaluator_id`` (SPEC §10).
        """
        if isinstance(required_capabilities, tuple):
            required_capabilities = list(required_capabilities)
        return self.tasks.post(poster_id, title=title, budget=budget, description=description,
                               required_capabilities=required_capabilities, **timers)

    def get_task(self, task_id: str) -> Task:
        """One task. Raises NotFound."""
        return self.tasks.get(task_id)

    def tasks_page(self, query: TaskQuery) -> Page[Task]:
        """One page of tasks and how many there are, from one snapshot."""
        return self.tasks.page(query)

    def list_tasks(self, status: str | None = None, capability: str | None = None, limit: Any = None,
                   offset: Any = None, *, search: str | None = None, poster_id: str | None = None,
                   assigned_to: str | None = None, order: str = "newest") -> list[Task]:
        """Tasks, newest first by default; ``order`` is a ``TaskOrder``.

        Raises:
            ValidationError: a bad status, capability, limit, offset or order.
        """
        query = v.task_query(status, capability, limit, offset, search=search, poster_id=poster_id,
                             assigned_to=assigned_to, order=order)
        return self.tasks.page(query).items

    def count_tasks(self, status: str | None = None, capability: str | None = None, *, search: str | None = None,
                    poster_id: str | None = None, assigned_to: str | None = None) -> int:
        """How many tasks ``list_tasks`` would page through."""
        return self.tasks.page(v.task_query(status, capability, 1, search=search, poster_id=poster_id,
                                            assigned_to=assigned_to)).total

    def accept_task(self, task_id: str, agent_id: str) -> Task:
        """Assign an open task to ``agent_id`` (see :meth:`TaskService.accept`)."""
        return self.tasks.accept(task_id, agent_id)

    def complete_task(self, task_id: str, agent_id: str, result: Any) -> Task:
        """Complete an assigned task and pay it out (see :meth:`TaskService.complete`)."""
        return self.tasks.complete(task_id, agent_id, result)

    def cancel_task(self, task_id: str, agent_id: str) -> Task:
        """The poster withdraws an open task (see :meth:`TaskService.cancel`)."""
        return self.tasks.cancel(task_id, agent_id)

    def release_task(self, task_id: str, agent_id: str) -> Task:
        """The assignee gives an assigned task back (see :meth:`TaskService.release`)."""
        return self.tasks.release(task_id, agent_id)

    def rate_task(self, task_id: str, agent_id: str, rating: Any) -> Task:
        """The poster rates a completed task once (see :meth:`TaskService.rate`)."""
        return self.tasks.rate(task_id, agent_id, rating)

    def approve_task(self, task_id: str, agent_id: str) -> Task:
        """The poster approves a submitted result and it is paid (see :meth:`TaskService.approve`)."""
        return self.tasks.approve(task_id, agent_id)

    def reject_task(self, task_id: str, agent_id: str, reason: Any) -> Task:
        """The poster disputes a submitted result (see :meth:`TaskService.reject`)."""
        return self.tasks.reject(task_id, agent_id, reason)

    def resolve_task(self, task_id: str, actor: str, worker_share: Any, note: Any = "") -> Task:
        """The evaluator (or ``states.OPERATOR``) settles a dispute (see :meth:`TaskService.resolve`)."""
        return self.tasks.resolve(task_id, actor, worker_share, note)

    def sweep(self, now: datetime | None = None) -> list[Task]:
        """Apply every lapsed timer, one transaction per task; returns the tasks changed
        (see :meth:`TaskService.sweep`)."""
        return self.tasks.sweep(now)

    def task_timeline(self, task_id: str) -> list[Event]:
        """What happened to a task, oldest first. Raises NotFound."""
        return self.tasks.timeline(task_id)

    # -- direct execution (the ledger side; engine.outbound runs the agent) ---------
    def hire(self, caller_id: str, agent_id: Any, task_description: Any, budget: Any) -> Task:
        """Open a direct task and escrow its budget (see :meth:`HiringService.hire`)."""
        return self.hiring.hire(caller_id, agent_id, task_description, budget)

    def finish_hire(self, task_id: str, result: Any) -> Task:
        """Settle a direct task that produced ``result``: paid out, completed."""
        return self.hiring.finish(task_id, result)

    def fail_hire(self, task_id: str, reason: str) -> Task:
        """Settle a direct task whose agent failed: failed, whole escrow refunded."""
        return self.hiring.fail(task_id, reason)

    # -- credits --------------------------------------------------------------------
    def balance(self, agent_id: str) -> int:
        """The agent's wallet balance. Raises NotFound."""
        return self.ledger.balance(agent_id)

    def wallet(self, agent_id: str) -> Wallet:
        """Balance, credits in escrow for the agent's open tasks, earned and spent."""
        return self.ledger.wallet(agent_id)

    def transactions(self, agent_id: str, limit: Any = None, offset: Any = None) -> list[Transaction]:
        """The agent's wallet history, newest first, each with the balance after it."""
        return self.ledger.transactions(agent_id, limit, offset)

    def count_transactions(self, agent_id: str) -> int:
        """How many transfers touched the agent's wallet."""
        return self.ledger.count_transactions(agent_id)

    def grant(self, agent_id: str, credits: Any, reason: Any = None) -> int:
        """Issue ``credits`` new credits to an agent (operators, simulations), with the reason
        recorded on the transfer. Returns the new balance."""
        return self.ledger.grant(agent_id, credits, reason)

    def registration_terms(self) -> RegistrationTerms:
        """What registering takes on this market: an invite code or not, and the grant."""
        return self.admission.terms()

    def create_invites(self, count: Any) -> list[str]:
        """Make ``count`` single-use invite codes, shown this once (stored hashed)."""
        return self.admission.create_invites(count)

    def invites(self, limit: Any = None, offset: Any = None) -> list[Invite]:
        """Invite codes (never the codes themselves), newest first."""
        return self.admission.invites(limit, offset)

    # -- market-wide ----------------------------------------------------------------
    def stats(self) -> Stats:
        """Counts of agents and tasks, and where the credits are."""
        return self.ledger.stats()

    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        """Market events with ``seq`` greater than ``after``, oldest first (for live feeds)."""
        return self.events_feed.after(after, limit)

    def events_page(self, after: Any = 0, limit: Any = 100, cursor: str | None = None) -> Page[Event]:
        """One page of the events after seq ``after``, oldest first, with how many there are
        and the cursor of the next page. Raises ValidationError; InvalidCursor."""
        return self.events_feed.page(v.event_query(after, limit, cursor))

    def recent_events(self, limit: int = 50) -> list[Event]:
        """The newest market events, newest first."""
        return self.events_feed.recent(limit)

    def verify_ledger(self) -> LedgerReport:
        """Check every invariant of SPEC §2 in one snapshot; report each with offending rows."""
        return self.ledger.verify()

    def verify_counters(self) -> LedgerReport:
        """Check the counters behind totals and stats against a recount (SPEC §12)."""
        return self.ledger.verify_counters()
