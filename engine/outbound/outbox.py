"""The webhook outbox as the delivery worker sees it: claim due deliveries under a lease,
settle each attempt, list what happened; and the direct executions left running.
Every method is one transaction.

Deliveries are rows, so they outlive any process: a claim only pushes a delivery's
``next_attempt_at`` past the time its attempt can take, so a claim that dies with its
process comes due again by itself. ``attempts`` counts claims, so even a delivery that
keeps killing its worker stops after the last attempt.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..records import Delivery
from ..storage import SQLiteTx

if TYPE_CHECKING:
    from ..market import Market

LEASE_NAME = "webhooks"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the market's timestamps
_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Claim:
    """One delivery attempt this worker owns until it settles it (or its claim runs out)."""

    delivery_id: str
    agent_id: str
    event: str
    payload: bytes
    attempt: int  # 1 for the first
    url: str
    secret: str


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


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded attempt of a delivery."""

    attempt: int
    status_code: int | None
    latency_ms: float | None
    error: str | None
    created_at: str


class Outbox:
    """The outbox of ``market``'s file.

    Reaches into the market's store on purpose: the worker is part of the engine, and
    these statements are the outbox's own (``storage/outbox_sql.py``).
    """

    def __init__(self, market: Market) -> None:
        self._store = market._store
        self._now = market._now
        self._clock = market._clock
        self._write_lock = threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[SQLiteTx]:
        # The worker's threads take turns here rather than in SQLite's busy handler,
        # which sleeps for up to 100 ms at a time while another connection writes.
        with self._write_lock, self._store.write() as tx:
            yield tx

    # -- the lease ------------------------------------------------------------------
    def take_lease(self, holder: str, now: float, expires_at: float) -> bool:
        """Take or renew the delivery lease; False while another live holder has it."""
        with self._write() as tx:
            return tx.take_lease(LEASE_NAME, holder, now, expires_at)

    def drop_lease(self, holder: str) -> None:
        """Give the lease up so another process can deliver at once."""
        with self._write() as tx:
            tx.drop_lease(LEASE_NAME, holder)

    # -- claiming and settling ----------------------------------------------------------
    def next_due_at(self) -> float | None:
        """When the earliest pending delivery is due (unix seconds), None if none is pending."""
        with self._store.read() as tx:
            return tx.next_delivery_due_at()

    def claim(self, holder: str, now: float, limit: int, hold_until: float, busy_agents: Collection[str],
              admit: Callable[[str], bool] = lambda url: True) -> list[Claim]:
        """Claim up to ``limit`` due deliveries, at most one per agent and none for ``busy_agents``.

        ``admit(url)`` is asked about each candidate in turn; a delivery it refuses (its
        receiver is busy enough) waits for a later claim.

        Deliveries whose agent no longer has a webhook are marked failed instead.
        Nothing is claimed unless ``holder`` holds the lease at ``now``.
        """
        stamp = self._now()
        claims: list[Claim] = []
        with self._write() as tx:
            if not tx.holds_lease(LEASE_NAME, holder, now):
                return []
            for row in tx.due_deliveries(now, 4 * limit + len(busy_agents)):
                if len(claims) == limit:
                    break
                if row["agent_id"] in busy_agents:
                    continue
                if not row["webhook_url"] or not row["webhook_secret"]:
                    tx.update_delivery(row["id"], {"status": "failed", "last_error": "the agent's webhook was removed",
                                                   "updated_at": stamp})
                    continue
                if not admit(row["webhook_url"]):
                    continue
                attempt = row["attempts"] + 1
                tx.update_delivery(row["id"], {"attempts": attempt, "next_attempt_at": hold_until, "updated_at": stamp})
                claims.append(Claim(row["id"], row["agent_id"], row["event"], row["payload"].encode(), attempt,
                                    row["webhook_url"], row["webhook_secret"]))
        return claims

    def delivered(self, claim: Claim, outcome: Outcome) -> None:
        """Record a successful attempt; the delivery is done."""
        self._settle(claim, outcome, {"status": "delivered"})

    def retry(self, claim: Claim, outcome: Outcome, at: float) -> None:
        """Record a failed attempt and schedule the next one at ``at`` (unix seconds)."""
        self._settle(claim, outcome, {"next_attempt_at": at})

    def give_up(self, claim: Claim, outcome: Outcome, *, turn_webhook_off: bool = False) -> None:
        """Record a failed attempt and mark the delivery failed (kept, never deleted).

        With ``turn_webhook_off`` the agent's webhook URL is cleared, if it is still the
        URL this attempt went to.
        """
        self._settle(claim, outcome, {"status": "failed"}, turn_webhook_off=turn_webhook_off)

    def _settle(self, claim: Claim, outcome: Outcome, changes: dict[str, Any], *, turn_webhook_off: bool = False) -> None:
        stamp = self._now()
        error = None if outcome.error is None else outcome.error[:_ERROR_LENGTH]
        with self._write() as tx:
            tx.insert_attempt({
                "delivery_id": claim.delivery_id, "attempt": claim.attempt, "status_code": outcome.status_code,
                "latency_ms": round(outcome.latency_ms, 1), "error": error, "created_at": stamp,
            })
            tx.update_delivery(claim.delivery_id, {
                **changes, "last_status_code": outcome.status_code, "last_error": error, "updated_at": stamp,
            })
            if turn_webhook_off and tx.turn_webhook_off(claim.agent_id, claim.url):
                tx.insert_event("webhook.disabled", None, claim.agent_id, stamp,
                                json.dumps({"reason": f"the receiver answered {outcome.status_code}"}))

    # -- reading ----------------------------------------------------------------------
    def recent(self, agent_id: str, limit: int, offset: int = 0) -> list[Delivery]:
        """The agent's deliveries, newest first."""
        with self._store.read() as tx:
            return [_delivery(r) for r in tx.agent_deliveries(agent_id, limit, offset)]

    def attempts(self, delivery_id: str) -> list[Attempt]:
        """Every recorded attempt of one delivery, first first."""
        with self._store.read() as tx:
            return [Attempt(r["attempt"], r["status_code"], r["latency_ms"], r["error"], r["created_at"])
                    for r in tx.delivery_attempts(delivery_id)]


    # -- direct executions ---------------------------------------------------------------
    def direct_tasks_running_since(self, seconds: float) -> list[str]:
        """Ids of direct tasks still running (``assigned``) with no change for ``seconds``."""
        cutoff = (self._clock() - timedelta(seconds=seconds)).strftime(TIME_FORMAT)
        with self._store.read() as tx:
            return tx.running_direct_tasks(cutoff)


def _delivery(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        event=row["event"],
        agent_id=row["agent_id"],
        task_id=row["task_id"],
        status=row["status"],
        attempts=row["attempts"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
