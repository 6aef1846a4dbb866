"""SQL for outbound calls: delivering the webhook outbox, the delivery lease, and
direct executions that a crash left running.

Rows are queued by ``EventSQL.enqueue_delivery`` in the transaction that caused them;
this mixin claims, settles and lists them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from . import _sql


class OutboxSQL:
    conn: sqlite3.Connection

    # -- the lease: one delivering process at a time --------------------------------
    def take_lease(self, name: str, holder: str, now: float, expires_at: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` unless another holder's lease is still live."""
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
    def next_delivery_due_at(self) -> float | None:
        """When the earliest pending delivery is due (unix seconds), or None if none is pending."""
        return self.conn.execute(
            "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'"
        ).fetchone()[0]

    def due_deliveries(self, now: float, limit: int) -> list[sqlite3.Row]:
        """The earliest due pending delivery of each agent (earliest first), with the agent's
        current webhook URL and secret. One per agent, so a backlog for one agent cannot
        hide the others' deliveries."""
        return self.conn.execute(
            "WITH due AS (SELECT id, next_attempt_at, rowid AS seq, row_number() OVER"
            " (PARTITION BY agent_id ORDER BY next_attempt_at, rowid) AS place"
            " FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?)"
            " SELECT d.id, d.event, d.agent_id, d.payload, d.attempts, a.webhook_url, a.webhook_secret"
            " FROM due JOIN webhook_deliveries d ON d.id = due.id JOIN agents a ON a.id = d.agent_id"
            " WHERE due.place = 1 ORDER BY due.next_attempt_at, due.seq LIMIT ?",
            (now, limit),
        ).fetchall()

    def update_delivery(self, delivery_id: str, fields: dict[str, Any]) -> None:
        self.conn.execute(_sql.update("webhook_deliveries", tuple(fields)), (*fields.values(), delivery_id))

    def insert_attempt(self, row: dict[str, Any]) -> None:
        self.conn.execute(_sql.insert("webhook_attempts", tuple(row)), tuple(row.values()))

    def turn_webhook_off(self, agent_id: str, url: str) -> bool:
        """Clear the agent's webhook URL if it is still ``url``; True if it was cleared."""
        return self.conn.execute(
            "UPDATE agents SET webhook_url = NULL WHERE id = ? AND webhook_url = ?", (agent_id, url)
        ).rowcount == 1

    def agent_deliveries(self, agent_id: str, limit: int, offset: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM webhook_deliveries WHERE agent_id = ? ORDER BY rowid DESC LIMIT ? OFFSET ?",
            (agent_id, limit, offset),
        ).fetchall()

    def delivery_attempts(self, delivery_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt, id", (delivery_id,)
        ).fetchall()

    # -- direct executions left running -----------------------------------------------
    def running_direct_tasks(self, updated_before: str) -> list[str]:
        """Ids of direct tasks still ``assigned`` whose last change is older than ``updated_before``."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM tasks WHERE kind = 'direct' AND status = 'assigned' AND updated_at < ?"
            " AND assigned_to IS NOT NULL ORDER BY rowid",
            (updated_before,),
        )]
