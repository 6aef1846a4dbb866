"""SQLite: market events (:class:`~.repositories.EventRepository`), their data as JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..records import Event


class SQLiteEvents:
    """Events in table ``events``, numbered by ``seq``."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, type_: str, task_id: str | None, agent_id: str | None, at: str, data: Mapping[str, Any]) -> int:
        return self.conn.execute(
            "INSERT INTO events (type, task_id, agent_id, created_at, data) VALUES (?, ?, ?, ?, ?)",
            (type_, task_id, agent_id, at, json.dumps(data) if data else "{}"),
        ).lastrowid

    def after(self, seq: int, limit: int) -> list[Event]:
        return _events(self.conn.execute("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)))

    def matching(self, seq: int, limit: int, types: Sequence[str] | None, involving: str | None) -> list[Event]:
        where, args = ["seq > ?"], [seq]
        if types:
            where.append(f"type IN ({', '.join('?' * len(types))})")
            args += types
        if involving is not None:
            where.append("(agent_id = ? OR task_id IN (SELECT id FROM tasks WHERE poster_id = ? OR assigned_to = ?))")
            args += [involving] * 3
        return _events(self.conn.execute(f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                                         (*args, limit)))

    def newest_seq(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def latest(self, limit: int) -> list[Event]:
        return _events(self.conn.execute("SELECT * FROM events ORDER BY seq DESC LIMIT ?", (limit,)))

    def for_task(self, task_id: str) -> list[Event]:
        return _events(self.conn.execute("SELECT * FROM events WHERE task_id = ? ORDER BY seq", (task_id,)))


def _events(cursor: sqlite3.Cursor) -> list[Event]:
    return [
        Event(seq=r["seq"], type=r["type"], task_id=r["task_id"], agent_id=r["agent_id"], created_at=r["created_at"],
              data=json.loads(r["data"]))
        for r in cursor
    ]
