"""SQLite: the webhook outbox and the delivery lease (:class:`~.repositories.OutboxRepository`).

Deliveries are queued in the transaction that caused them; the outbox service claims,
settles and lists them. PostgreSQL runs this class too (``postgres/repositories.py:
PgOutbox``), claiming with ``FOR UPDATE SKIP LOCKED`` instead of under a lease.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..queries import DeliveryQuery
from ..records import Attempt, Delivery, DueDelivery
from . import _sql

_DELIVERY_COLUMNS = ("d.id, d.event, d.agent_id, d.task_id, d.status, d.attempts, d.last_status_code, d.last_error,"
                     " d.created_at, d.updated_at")
_NEWEST: _sql.SortKey = (("d.rowid", True),)


class SQLiteOutbox:
    """Deliveries in ``webhook_deliveries``, attempts in ``webhook_attempts``, leases in ``worker_leases``.

    Each claim names its claimer (``claimed_by``) and holds until ``claimed_until``; only that
    claim settles the delivery. On SQLite one process claims at a time, the holder of the
    ``worker_leases`` lease; a store whose processes claim at once (PostgreSQL) locks the rows
    it claims (:attr:`LOCK_DUE`) and needs no lease.
    """

    __slots__ = ("conn",)
    concurrent_claims = False
    #: Appended to the claim's query: how it locks the rows it returns (SQLite: the write lock does).
    LOCK_DUE = ""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def enqueue(self, delivery_id: str, event: str, agent_id: str, task_id: str | None, payload: str,
                at: str) -> None:
        self.conn.execute(
            "INSERT INTO webhook_deliveries (id, event, agent_id, task_id, payload, status, attempts,"
            " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, 0.0, ?, ?)",
            (delivery_id, event, agent_id, task_id, payload, at, at),
        )

    # -- the lease: one delivering process at a time --------------------------------
    def take_lease(self, name: str, holder: str, now: float, expires_at: float) -> bool:
        self.conn.execute(
            "INSERT INTO worker_leases (name, holder, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
            " WHERE worker_leases.holder = excluded.holder OR worker_leases.expires_at <= ?",
            (name, holder, expires_at, now),
        )
        return self.holds_lease(name, holder, now)

    def holds_lease(self, name: str, holder: str, now: float) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM worker_leases WHERE name = ? AND holder = ? AND expires_at > ?", (name, holder, now)
        ).fetchone()
        return row is not None

    def drop_lease(self, name: str, holder: str) -> None:
        self.conn.execute("DELETE FROM worker_leases WHERE name = ? AND holder = ?", (name, holder))

    # -- deliveries -----------------------------------------------------------------
    def next_due_at(self) -> float | None:
        return self.conn.execute(
            "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'"
        ).fetchone()[0]

    def due(self, now: float, limit: int) -> list[DueDelivery]:
        # One per agent, so a backlog for one agent cannot hide the others' deliveries; none
        # for an agent with a live claim (another process is sending it one). The outer
        # query repeats the due conditions on ``d``: PostgreSQL re-checks them on a row
        # another node claimed while this statement ran (the CTE is not re-read).
        rows = self.conn.execute(
            "WITH due AS (SELECT id, next_attempt_at, rowid AS seq, row_number() OVER"
            " (PARTITION BY agent_id ORDER BY next_attempt_at, rowid) AS place"
            " FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1)"
            " SELECT d.id, d.event, d.agent_id, d.payload, d.attempts, a.webhook_url, a.webhook_secret,"
            " CASE WHEN a.webhook_previous_until > ?1 THEN a.webhook_previous_secret END"
            " FROM due JOIN webhook_deliveries d ON d.id = due.id JOIN agents a ON a.id = d.agent_id"
            " WHERE due.place = 1 AND d.status = 'pending' AND d.next_attempt_at <= ?1"
            " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries c WHERE c.agent_id = d.agent_id"
            " AND c.claimed_until > ?1)"
            " ORDER BY due.next_attempt_at, due.seq LIMIT ?2" + self.LOCK_DUE,
            (now, limit),
        ).fetchall()
        return [DueDelivery(*row) for row in rows]

    def mark_claimed(self, delivery_id: str, holder: str, attempts: int, hold_until: float, at: str) -> None:
        self.conn.execute(
            "UPDATE webhook_deliveries SET attempts = ?1, next_attempt_at = ?2, claimed_by = ?3, claimed_until = ?2,"
            " updated_at = ?4 WHERE id = ?5",
            (attempts, hold_until, holder, at, delivery_id),
        )

    def release(self, holder: str, now: float) -> int:
        return self.conn.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = ?, claimed_until = NULL"
            " WHERE claimed_by = ? AND claimed_until IS NOT NULL AND status = 'pending'", (now, holder)).rowcount

    def give_up(self, delivery_id: str, error: str, at: str) -> None:
        self.conn.execute(
            "UPDATE webhook_deliveries SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?",
            (error, at, delivery_id),
        )

    def settle(self, delivery_id: str, holder: str, attempt: int, *, status: str | None,
               next_attempt_at: float | None, status_code: int | None, error: str | None, at: str) -> bool:
        cursor = self.conn.execute(
            "UPDATE webhook_deliveries SET status = COALESCE(?, status), next_attempt_at = COALESCE(?, next_attempt_at),"
            " last_status_code = ?, last_error = ?, updated_at = ?, claimed_until = NULL"
            " WHERE id = ? AND claimed_by = ? AND attempts = ?",
            (status, next_attempt_at, status_code, error, at, delivery_id, holder, attempt),
        )
        return cursor.rowcount == 1

    def add_attempt(self, delivery_id: str, attempt: int, status_code: int | None, latency_ms: float,
                    error: str | None, at: str) -> None:
        self.conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, error, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (delivery_id, attempt, status_code, latency_ms, error, at),
        )

    def for_agent(self, agent_id: str, limit: int, offset: int) -> list[Delivery]:
        return self.page(DeliveryQuery(agent_id, limit, offset), None)[0]

    def page(self, query: DeliveryQuery, after: tuple[Any, ...] | None) -> tuple[list[Delivery],
                                                                                 tuple[Any, ...] | None]:
        rows, last = _sql.keyset_page(self.conn, _DELIVERY_COLUMNS, "webhook_deliveries d",
                                      (" WHERE d.agent_id = ?", [query.agent_id]), _NEWEST, query.limit,
                                      query.offset, after)
        return [Delivery(*row[:-1]) for row in rows], last

    def count(self, query: DeliveryQuery) -> tuple[int, bool]:
        # No counter: exact up to the cap, a lower bound past it (SPEC §12).
        return _sql.capped_count(self.conn, "SELECT 1 FROM webhook_deliveries WHERE agent_id = ?", [query.agent_id])

    def get(self, delivery_id: str) -> Delivery | None:
        row = self.conn.execute(f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = ?",
                                (delivery_id,)).fetchone()
        return None if row is None else Delivery(*row)

    def requeue(self, delivery_id: str, at: str) -> None:
        self.conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = 0.0, claimed_until = NULL,"
            " updated_at = ?"
            " WHERE id = ?", (at, delivery_id))

    def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = self.conn.execute(
            "SELECT attempt, status_code, latency_ms, error, created_at FROM webhook_attempts"
            " WHERE delivery_id = ? ORDER BY id",  # a redelivery numbers its attempts from 1 again
            (delivery_id,),
        ).fetchall()
        return [Attempt(*row) for row in rows]
