"""SQL for market events (timelines, the live feed) and the webhook outbox."""

from __future__ import annotations

import sqlite3
from typing import Any

from . import _sql


class EventSQL:
    conn: sqlite3.Connection

    def insert_event(self, type_: str, task_id: str | None, agent_id: str | None, at: str, data: str) -> int:
        return self.conn.execute(
            "INSERT INTO events (type, task_id, agent_id, created_at, data) VALUES (?, ?, ?, ?, ?)",
            (type_, task_id, agent_id, at, data),
        ).lastrowid

    def events_after(self, seq: int, limit: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()

    def latest_events(self, limit: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM events ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()

    def task_events(self, task_id: str) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM events WHERE task_id = ? ORDER BY seq", (task_id,)).fetchall()

    def enqueue_delivery(self, row: dict[str, Any]) -> None:
        self.conn.execute(_sql.insert("webhook_deliveries", tuple(row)), tuple(row.values()))
