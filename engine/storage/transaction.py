"""The transaction object the services talk to: one SQLite repository per area."""

from __future__ import annotations

import sqlite3

from .agents_sql import SQLiteAgents
from .counters_sql import SQLiteCounters
from .events_sql import SQLiteEvents
from .idempotency_sql import SQLiteIdempotency
from .ledger_sql import SQLiteLedger
from .outbox_sql import SQLiteOutbox
from .registrations_sql import SQLiteRegistrations
from .settings_sql import SQLiteSettings
from .tasks_sql import SQLiteTasks


class SQLiteTx:
    """The repositories on one connection (:class:`~.repositories.MarketTx`).

    Made once per connection and handed to each transaction on it: the repositories hold
    the connection (and, for tasks, what the store lets them remember of the file: see
    ``_search.CappedTexts``), and a transaction is whatever is open on it.
    """

    __slots__ = ("agents", "tasks", "ledger", "events", "outbox", "idempotency", "registrations", "settings",
                 "counters", "conn")

    #: The repository class of each area; another store's subclass replaces some of them.
    REPOSITORIES: dict[str, type] = {
        "agents": SQLiteAgents, "tasks": SQLiteTasks, "ledger": SQLiteLedger, "events": SQLiteEvents,
        "outbox": SQLiteOutbox, "idempotency": SQLiteIdempotency, "registrations": SQLiteRegistrations,
        "settings": SQLiteSettings, "counters": SQLiteCounters,
    }

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn  # for whole-table tools only (storage/copying.py); the services use the repositories
        for area, repository in self.REPOSITORIES.items():
            setattr(self, area, repository(conn))
