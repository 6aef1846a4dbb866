"""The transaction object the engine talks to: every SQL statement of the market.

``SQLiteTx`` is assembled from one mixin per area so each file stays about one
thing. Another database can stand behind the engine by providing a store whose
transactions offer the same methods.
"""

from __future__ import annotations

import sqlite3

from .agents_sql import AgentSQL
from .events_sql import EventSQL
from .idempotency_sql import IdempotencySQL
from .ledger_sql import LedgerSQL
from .outbox_sql import OutboxSQL
from .tasks_sql import TaskSQL


class SQLiteTx(AgentSQL, TaskSQL, LedgerSQL, EventSQL, OutboxSQL, IdempotencySQL):
    """Statements run inside one open transaction on ``conn``."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def settings(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT key, value FROM settings")}

    def put_setting(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
