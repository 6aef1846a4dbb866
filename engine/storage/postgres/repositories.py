"""The repositories on PostgreSQL: SQLite's classes (the ``*_sql`` modules) over a
:class:`~._dialect.PgConnection`, with what differs overridden here: text search, an
event of a type not yet in ``event_types``, and webhook deliveries claimed by every node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._like import contains_pattern
from ..agents_sql import SQLiteAgents
from ..events_sql import SQLiteEvents, insert_sql, stored
from ..outbox_sql import SQLiteOutbox
from ..tasks_sql import SQLiteTasks
from ..transaction import SQLiteTx


def search_condition(text: str, alias: str, _index: str, columns: tuple[str, ...]) -> tuple[str, list[str]]:
    """Rows of ``alias`` whose ``columns`` contain ``text`` in any case: ILIKE, which pg_trgm's
    GIN indexes (schema) answer for three characters or more, as SQLite's trigram index does."""
    pattern = contains_pattern(text)
    return ("(" + " OR ".join(f"{alias}.{c} COLLATE \"default\" ILIKE ? ESCAPE '\\'" for c in columns) + ")",
            [pattern] * len(columns))


class PgTasks(SQLiteTasks):
    """Tasks, searched with ILIKE over pg_trgm. Order ``relevance`` has no bm25 rank here
    (that is SQLite's FTS5): its lists come newest first, as without a search."""

    __slots__ = ()
    search_condition = staticmethod(search_condition)


class PgAgents(SQLiteAgents):
    """Agents, searched with ILIKE over pg_trgm."""

    __slots__ = ()
    search_condition = staticmethod(search_condition)


# Inserts nothing (no error) when the type is not in event_types yet.
_INSERT_EVENT = (
    "INSERT INTO events (type, task, agent, at, data) SELECT y.code, (SELECT rowid FROM tasks WHERE id = ?2),"
    " (SELECT rowid FROM agents WHERE id = ?3), unixepoch(?4), {data} FROM event_types y WHERE y.name = ?1"
)


class PgEvents(SQLiteEvents):
    """Events; a new type is added to ``event_types`` before its event, not after a failed
    INSERT as on SQLite (a failed statement would abort PostgreSQL's whole transaction)."""

    __slots__ = ()

    def add(self, type_: str, task_id: str | None, agent_id: str | None, at: str, data: Mapping[str, Any]) -> int:
        column, args = stored(type_, task_id, agent_id, at, data)
        sql = insert_sql(_INSERT_EVENT, column)
        row = self.conn.execute(sql, args).fetchone()  # the seq (the dialect returns it)
        if row is None:  # a type first seen now (the catalog's are there from the migration)
            self.conn.execute("INSERT OR IGNORE INTO event_types (name) VALUES (?)", (type_,))
            row = self.conn.execute(sql, args).fetchone()
        return row[0]


class PgOutbox(SQLiteOutbox):
    """The outbox, claimed by every node at once: a claim locks the rows it takes and skips
    rows another node's claim has locked (``FOR UPDATE SKIP LOCKED``), so no delivery is
    claimed twice and no node waits for another; no delivery lease is needed (a killed
    node's claims run out by themselves, ``claimed_until``)."""

    __slots__ = ()
    concurrent_claims = True
    LOCK_DUE = " FOR UPDATE OF d SKIP LOCKED"


class PgTx(SQLiteTx):
    """The repositories on one PostgreSQL connection (:class:`~..repositories.MarketTx`)."""

    __slots__ = ()
    REPOSITORIES = {**SQLiteTx.REPOSITORIES, "tasks": PgTasks, "agents": PgAgents, "events": PgEvents,
                    "outbox": PgOutbox}
