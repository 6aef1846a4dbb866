"""The outbox service: webhook deliveries as data.

Deliveries are queued (:meth:`OutboxService.notify`) in the very transaction of the change
they announce. The delivery worker (``engine.outbound``, which does the HTTP) claims due
deliveries, and settles each attempt here. Every worker-facing method is one transaction.

Deliveries are rows, so they outlive any process: a claim names its claimer and pushes the
delivery's ``next_attempt_at`` (and ``claimed_until``) past the time its attempt can take,
so a claim that dies with its process comes due again by itself, and only the claim still
holding a delivery settles it. ``attempts`` counts claims, so even a delivery that keeps
killing its worker stops after the last attempt.

Who claims: on SQLite, the one process holding the delivery lease; on PostgreSQL every
node at once, each claim locking its rows (``tx.outbox.concurrent_claims``), and claims and
settles run beside the market's writers (``store.claiming_write``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import DeliveryPending, NotFound, NoWebhook
from ..event_catalog import PING
from ..queries import DeliveryQuery, Page
from ..records import Attempt, Delivery, Task
from ..storage import MarketTx
from .context import MarketContext, read_page

LEASE_NAME = "webhooks"
_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Claim:
    """One delivery attempt a worker owns until it settles it (or its claim runs out)."""

    delivery_id: str
    agent_id: str
    event: str
    payload: bytes
    attempt: int  # 1 for the first
    url: str
    secret: str
    holder: str  # the claimer: only its claim settles the delivery
    previous_secret: str | None = None  # replaced by a rotation, still signing beside ``secret``


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went: an HTTP status, or an error before any status arrived."""

    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after: float | None = None  # seconds, from the receiver's Retry-After

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_payload(event: str, task: Task, marketplace_url: str) -> str:
    """The exact JSON body of a webhook, as the seed documents it for ``task.posted``."""
    body: dict[str, Any] = {
        "event": event,
        "task": {
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "budget": task.budget,
            "required_capabilities": list(task.required_capabilities),
            "created_at": task.created_at,
        },
        "marketplace_url": marketplace_url,
    }
    if event != "task.posted":
        body["task"].update(status=task.status, poster_id=task.poster_id, assigned_to=task.assigned_to)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class OutboxService:
    """Queues, claims, settles and lists webhook deliveries."""

    def __init__(self, ctx: MarketContext) -> None:
        self._ctx = ctx
        self._write_lock = threading.Lock()

    # -- queueing, inside a caller's transaction -------------------------------------------
    def notify(self, tx: MarketTx, event: str, task: Task, agent_ids: Iterable[str], now: str) -> None:
        """Queue ``event`` about ``task`` for each of ``agent_ids`` (agents with a webhook URL)."""
        payload: str | None = None
        for agent_id in agent_ids:
            if payload is None:
                payload = webhook_payload(event, task, self._ctx.public_url)
            tx.outbox.enqueue(self._ctx.new_id(), event, agent_id, task.id, payload, now)

    def notify_receivers(self, tx: MarketTx, event: str, task: Task, exclude_id: str, now: str) -> None:
        """Queue ``event`` for the agents told of the task (``engine.event_catalog``): webhooks
        subscribed to it whose capabilities overlap the task's, or that hear of all tasks."""
        receivers = tx.agents.webhook_receivers(task.required_capabilities, exclude_id, event)
        if receivers:
            self.notify(tx, event, task, receivers, now)

    def notify_subscribed(self, tx: MarketTx, event: str, task: Task, agent_ids: Iterable[str], now: str) -> None:
        """Queue ``event`` for those of ``agent_ids`` (the task's poster, its assignee, ...) whose
        webhook subscribes to it. Every event sent to named agents goes through here."""
        receivers = [agent_id for agent_id in agent_ids if tx.agents.subscribes(agent_id, event)]
        if receivers:
            self.notify(tx, event, task, receivers, now)

    # -- an agent's own requests ---------------------------------------------------------
    def ping(self, agent_id: str) -> Delivery:
        """Queue a ``ping`` to the agent's webhook, due now.

        Raises:
            NotFound; NoWebhook.
        """
        now = self._ctx.now()
        delivery_id = self._ctx.new_id()
        payload = json.dumps({"event": PING, "agent_id": agent_id, "sent_at": now,
                              "marketplace_url": self._ctx.settings.public_url}, separators=(",", ":"))
        with self._ctx.store.write() as tx:
            _require_webhook(tx, agent_id)
            tx.outbox.enqueue(delivery_id, PING, agent_id, None, payload, now)
            return _found_delivery(tx, agent_id, delivery_id)

    def redeliver(self, agent_id: str, delivery_id: str) -> Delivery:
        """Make one of the agent's settled deliveries pending again (same id and body), due now.

        Raises:
            NotFound (no such delivery of this agent); DeliveryPending; NoWebhook.
        """
        with self._ctx.store.write() as tx:
            delivery = _found_delivery(tx, agent_id, delivery_id)
            if delivery.status == "pending":
                raise DeliveryPending("this delivery is still pending; it will be attempted again by itself")
            _require_webhook(tx, agent_id)
            tx.outbox.requeue(delivery_id, self._ctx.now())
            return _found_delivery(tx, agent_id, delivery_id)

    # -- the worker's side ---------------------------------------------------------------
    @contextmanager
    def _write(self, *, events: bool = False) -> Iterator[MarketTx]:
        """A transaction of the worker's: a claiming one (deliveries only) unless it adds ``events``."""
        # The worker's threads take turns here rather than in SQLite's busy handler,
        # which sleeps for up to 100 ms at a time while another connection writes.
        store = self._ctx.store
        with self._write_lock, (store.write() if events else store.claiming_write()) as tx:
            yield tx

    def take_lease(self, holder: str, now: float, expires_at: float) -> bool:
        """Take or renew the delivery lease; False while another live holder has it. Always
        True where every process claims at once (PostgreSQL)."""
        with self._write() as tx:
            return tx.outbox.concurrent_claims or tx.outbox.take_lease(LEASE_NAME, holder, now, expires_at)

    def drop_lease(self, holder: str) -> None:
        """Give the lease up so another process can deliver at once."""
        with self._write() as tx:
            if not tx.outbox.concurrent_claims:
                tx.outbox.drop_lease(LEASE_NAME, holder)

    def release_claims(self, holder: str, now: float) -> int:
        """Make ``holder``'s unsettled claims due again at ``now`` (a stopping worker hands its
        deliveries to the next claim rather than leaving them until their claims run out; an
        attempt still running may then reach its receiver twice). Returns how many."""
        with self._write() as tx:
            return tx.outbox.release(holder, now)

    def next_due_at(self) -> float | None:
        """When the earliest pending delivery is due (unix seconds), None if none is pending."""
        with self._ctx.store.read() as tx:
            return tx.outbox.next_due_at()

    def claim(self, holder: str, now: float, limit: int, hold_until: float, busy_agents: Collection[str],
              admit: Callable[[str], bool] = lambda url: True) -> list[Claim]:
        """Claim up to ``limit`` due deliveries, at most one per agent and none for ``busy_agents``.

        ``admit(url)`` is asked about each candidate in turn; a delivery it refuses (its
        receiver is busy enough) waits for a later claim.

        Deliveries whose agent no longer has a webhook are marked failed instead.
        Nothing is claimed unless ``holder`` holds the lease at ``now`` (or processes claim at once).
        """
        stamp = self._ctx.now()
        claims: list[Claim] = []
        with self._write() as tx:
            if not tx.outbox.concurrent_claims and not tx.outbox.holds_lease(LEASE_NAME, holder, now):
                return []
            for due in tx.outbox.due(now, 4 * limit + len(busy_agents)):
                if len(claims) == limit:
                    break
                if due.agent_id in busy_agents:
                    continue
                if not due.webhook_url or not due.webhook_secret:
                    tx.outbox.give_up(due.id, "the agent's webhook was removed", stamp)
                    continue
                if not admit(due.webhook_url):
                    continue
                attempt = due.attempts + 1
                tx.outbox.mark_claimed(due.id, holder, attempt, hold_until, stamp)
                claims.append(Claim(due.id, due.agent_id, due.event, due.payload.encode(), attempt,
                                    due.webhook_url, due.webhook_secret, holder, due.previous_secret))
        return claims

    def delivered(self, claim: Claim, outcome: Outcome) -> None:
        """Record a successful attempt; the delivery is done."""
        self._settle(claim, outcome, status="delivered")

    def retry(self, claim: Claim, outcome: Outcome, at: float) -> None:
        """Record a failed attempt and schedule the next one at ``at`` (unix seconds)."""
        self._settle(claim, outcome, next_attempt_at=at)

    def give_up(self, claim: Claim, outcome: Outcome, *, turn_webhook_off: bool = False) -> None:
        """Record a failed attempt and mark the delivery failed (kept, never deleted).

        With ``turn_webhook_off`` the agent's webhook URL is cleared, if it is still the
        URL this attempt went to.
        """
        self._settle(claim, outcome, status="failed", turn_webhook_off=turn_webhook_off)

    def _settle(self, claim: Claim, outcome: Outcome, *, status: str | None = None,
                next_attempt_at: float | None = None, turn_webhook_off: bool = False) -> None:
        stamp = self._ctx.now()
        error = None if outcome.error is None else outcome.error[:_ERROR_LENGTH]
        with self._write(events=turn_webhook_off) as tx:
            tx.outbox.add_attempt(claim.delivery_id, claim.attempt, outcome.status_code,
                                  round(outcome.latency_ms, 1), error, stamp)
            if not tx.outbox.settle(claim.delivery_id, claim.holder, claim.attempt, status=status,
                                    next_attempt_at=next_attempt_at, status_code=outcome.status_code,
                                    error=error, at=stamp):
                return  # the claim ran out and another took the delivery: that one settles it
            if turn_webhook_off and tx.agents.turn_webhook_off(claim.agent_id, claim.url):
                tx.events.add("webhook.disabled", None, claim.agent_id, stamp,
                              {"reason": f"the receiver answered {outcome.status_code}"})

    # -- reading ----------------------------------------------------------------------------
    def recent(self, agent_id: str, limit: int, offset: int = 0) -> list[Delivery]:
        """The agent's deliveries, newest first."""
        with self._ctx.store.read() as tx:
            return tx.outbox.for_agent(agent_id, limit, offset)

    def page(self, query: DeliveryQuery) -> Page[Delivery]:
        """One page of the agent's deliveries, newest first, and their total, from one snapshot.

        Raises:
            InvalidCursor: the cursor was not issued for this agent's deliveries.
        """
        return read_page(self._ctx, query, lambda tx: tx.outbox)

    def attempts(self, delivery_id: str) -> list[Attempt]:
        """Every recorded attempt of one delivery, first first."""
        with self._ctx.store.read() as tx:
            return tx.outbox.attempts(delivery_id)


def _found_delivery(tx: MarketTx, agent_id: str, delivery_id: str) -> Delivery:
    delivery = tx.outbox.get(delivery_id)
    if delivery is None or delivery.agent_id != agent_id:
        raise NotFound(f"you have no webhook delivery with id {delivery_id!r}")
    return delivery


def _require_webhook(tx: MarketTx, agent_id: str) -> None:
    settings = tx.agents.webhook_settings(agent_id)
    if settings is None:
        raise NotFound(f"no agent with id {agent_id!r}")
    if not settings.url:
        raise NoWebhook("this agent has no webhook URL; set one first")
