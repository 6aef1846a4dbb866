"""SQLite: market events (:class:`~.repositories.EventRepository`), their data as JSON.

Stored compactly (schema migration 16): the type as a code of table ``event_types``, the
task and agent as their tables' rowids, the time as unix seconds, empty data as NULL.
Every read turns a row back into the same :class:`~engine.records.Event`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..queries import EventQuery
from ..records import Event
from .tasks_sql import by_agent

# Times are stored as unix seconds and read back in the market's one format (context.now).
_SELECT = (
    "SELECT e.seq, y.name, t.id, a.id, strftime('%Y-%m-%dT%H:%M:%SZ', e.at, 'unixepoch'), e.data FROM events e"
    " JOIN event_types y ON y.code = e.type LEFT JOIN tasks t ON t.rowid = e.task LEFT JOIN agents a ON a.rowid = e.agent"
)
_INSERT = (
    "INSERT INTO events (type, task, agent, at, data) VALUES ((SELECT code FROM event_types WHERE name = ?),"
    " (SELECT rowid FROM tasks WHERE id = ?), (SELECT rowid FROM agents WHERE id = ?), unixepoch(?), ?)"
)


class SQLiteEvents:
    """Events in table ``events``, numbered by ``seq``."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, type_: str, task_id: str | None, agent_id: str | None, at: str, data: Mapping[str, Any]) -> int:
        args = (type_, task_id, agent_id, at, json.dumps(data) if data else None)
        try:
            return self.conn.execute(_INSERT, args).lastrowid
        except sqlite3.IntegrityError:  # a type first seen now (the catalog's are there from the migration)
            self.conn.execute("INSERT OR IGNORE INTO event_types (name) VALUES (?)", (type_,))
            return self.conn.execute(_INSERT, args).lastrowid

    def after(self, seq: int, limit: int) -> list[Event]:
        return _events(self.conn.execute(f"{_SELECT} WHERE e.seq > ? ORDER BY e.seq LIMIT ?", (seq, limit)))

    def matching(self, seq: int, limit: int, types: Sequence[str] | None, involving: str | None) -> list[Event]:
        where, args = ["e.seq > ?"], [seq]
        if types:
            where.append(f"y.name IN ({', '.join('?' * len(types))})")
            args += types
        if involving is not None:
            where.append(f"(e.agent = (SELECT rowid FROM agents WHERE id = ?) OR e.task IN (SELECT rowid FROM tasks"
                         f" WHERE {by_agent('poster_id')} UNION SELECT rowid FROM tasks WHERE {by_agent('assigned_to')}))")
            args += [involving] * 5
        return _events(self.conn.execute(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY e.seq LIMIT ?",
                                         (*args, limit)))

    def page(self, query: EventQuery, after: tuple[Any, ...] | None) -> tuple[list[Event], tuple[Any, ...] | None]:
        start = max(query.after, after[0] if after else 0)
        rows = self.conn.execute(f"{_SELECT} WHERE e.seq > ? ORDER BY e.seq LIMIT ? OFFSET ?",
                                 (start, query.limit + 1, query.offset)).fetchall()
        events = _events(rows[:query.limit])
        return events, (events[-1].seq,) if len(rows) > query.limit else None

    def count(self, query: EventQuery) -> tuple[int, bool]:
        # Events are never deleted and each takes the next seq, so those after a seq are the
        # newest seq less it: no count of rows.
        return max(0, self.newest_seq() - query.after), False

    def newest_seq(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def latest(self, limit: int) -> list[Event]:
        return _events(self.conn.execute(f"{_SELECT} ORDER BY e.seq DESC LIMIT ?", (limit,)))

    def for_task(self, task_id: str) -> list[Event]:
        return _events(self.conn.execute(
            f"{_SELECT} WHERE e.task = (SELECT rowid FROM tasks WHERE id = ?) ORDER BY e.seq", (task_id,)))


def _events(cursor: sqlite3.Cursor) -> list[Event]:
    return [Event(seq, type_, task_id, agent_id, created_at, json.loads(data) if data else {})
            for seq, type_, task_id, agent_id, created_at, data in cursor]
