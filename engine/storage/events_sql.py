"""SQLite: market events (:class:`~.repositories.EventRepository`), their data as JSON.

Stored compactly (schema migration 16): the type as a code of table ``event_types``, the
task and agent as their tables' rowids, the time as unix seconds, empty data as NULL.
Every read turns a row back into the same :class:`~engine.records.Event`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..queries import EventQuery
from ..records import Event
from .tasks_sql import by_agent

#: Events whose data is their task's own fields, which never change once the event happened
#: (a task's title and budget at its posting, its rating when rated): stored as NULL (schema
#: migration 23) and read back from the task. The data is checked against the task as stored.
DERIVED: dict[str, tuple[str, ...]] = {"task.posted": ("title", "budget"), "task.rated": ("rating",)}
# Times are stored as unix seconds and read back in the market's one format (context.now).
_SELECT = (
    "SELECT e.seq, y.name, t.id, a.id, strftime('%Y-%m-%dT%H:%M:%SZ', e.at, 'unixepoch'), e.data,"
    f" {', '.join(f't.{field}' for fields in DERIVED.values() for field in fields)} FROM events e"
    " JOIN event_types y ON y.code = e.type LEFT JOIN tasks t ON t.rowid = e.task LEFT JOIN agents a ON a.rowid = e.agent"
)
_INSERT = (
    "INSERT INTO events (type, task, agent, at, data) VALUES ((SELECT code FROM event_types WHERE name = ?1),"
    " (SELECT rowid FROM tasks WHERE id = ?2), (SELECT rowid FROM agents WHERE id = ?3), unixepoch(?4), {data})"
)


def stored(type_: str, task_id: str | None, agent_id: str | None, at: str,
           data: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """What an event's INSERT writes in column ``data`` (SQL over the arguments) and those arguments:
    ?1 type, ?2 task id, ?3 agent id, ?4 time, ?5 the data's JSON, then the fields DERIVED names."""
    args: tuple[Any, ...] = (type_, task_id, agent_id, at, json.dumps(data) if data else None)
    fields = DERIVED.get(type_)
    if fields is None:
        return "?5", args
    if tuple(data) != fields:  # not the task's fields: kept as given, '{}' when empty (NULL is the task's)
        return "COALESCE(?5, '{}')", args
    same = " AND ".join(f"{f} = ?{n}" for n, f in enumerate(fields, 6))
    return f"CASE WHEN (SELECT {same} FROM tasks WHERE id = ?2) THEN NULL ELSE ?5 END", (*args, *data.values())


@lru_cache(maxsize=16)
def insert_sql(template: str, data: str) -> str:
    """``template`` (an INSERT with ``{data}`` where column data's value goes) with ``data``."""
    return template.format(data=data)


class SQLiteEvents:
    """Events in table ``events``, numbered by ``seq``."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, type_: str, task_id: str | None, agent_id: str | None, at: str, data: Mapping[str, Any]) -> int:
        column, args = stored(type_, task_id, agent_id, at, data)
        sql = insert_sql(_INSERT, column)
        try:
            return self.conn.execute(sql, args).lastrowid
        except sqlite3.IntegrityError:  # a type first seen now (the catalog's are there from the migration)
            self.conn.execute("INSERT OR IGNORE INTO event_types (name) VALUES (?)", (type_,))
            return self.conn.execute(sql, args).lastrowid

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
    return [Event(row[0], row[1], row[2], row[3], row[4], _data(row[1], row[5], row[6:])) for row in cursor]


def _data(type_: str, stored: str | None, task_fields: Sequence[Any]) -> dict[str, Any]:
    """An event's data: as stored, or (NULL for a type in DERIVED) its task's fields (in DERIVED's order)."""
    if stored is not None:
        return json.loads(stored)
    fields = DERIVED.get(type_)
    if fields is None:
        return {}
    at = _OFFSETS[type_]
    return dict(zip(fields, task_fields[at:at + len(fields)], strict=True))


# Where each type's fields start among the task's columns _SELECT reads.
_OFFSETS = {type_: sum(len(f) for f in list(DERIVED.values())[:n]) for n, type_ in enumerate(DERIVED)}
