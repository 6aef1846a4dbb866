"""The repositories on PostgreSQL: SQLite's classes (the ``*_sql`` modules) over a
:class:`~._dialect.PgConnection`, with what differs overridden here: only text search."""

from __future__ import annotations

from .._like import contains_pattern
from ..agents_sql import SQLiteAgents
from ..tasks_sql import SQLiteTasks
from ..transaction import SQLiteTx


def search_condition(text: str, alias: str, _index: str, columns: tuple[str, ...]) -> tuple[str, list[str]]:
    """Rows of ``alias`` whose ``columns`` contain ``text`` in any case: ILIKE, which pg_trgm's
    GIN indexes (schema) answer for three characters or more, as SQLite's trigram index does."""
    pattern = contains_pattern(text)
    return ("(" + " OR ".join(f"{alias}.{c} COLLATE \"default\" ILIKE ? ESCAPE '\\'" for c in columns) + ")",
            [pattern] * len(columns))


class PgTasks(SQLiteTasks):
    """Tasks, searched with ILIKE over pg_trgm."""

    __slots__ = ()
    search_condition = staticmethod(search_condition)


class PgAgents(SQLiteAgents):
    """Agents, searched with ILIKE over pg_trgm."""

    __slots__ = ()
    search_condition = staticmethod(search_condition)


class PgTx(SQLiteTx):
    """The repositories on one PostgreSQL connection (:class:`~..repositories.MarketTx`)."""

    __slots__ = ()
    REPOSITORIES = {**SQLiteTx.REPOSITORIES, "tasks": PgTasks, "agents": PgAgents}
