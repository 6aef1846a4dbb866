"""SQLite: Idempotency-Key records (:class:`~.repositories.IdempotencyRepository`)."""

from __future__ import annotations

import sqlite3

from ..records import IdempotencyRecord


class SQLiteIdempotency:
    """Records in table ``idempotency_keys``, one per (agent, key)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, agent_id: str, key: str) -> IdempotencyRecord | None:
        row = self.conn.execute(
            "SELECT fingerprint, state, status_code, response, created_at FROM idempotency_keys"
            " WHERE agent_id = ? AND key = ?",
            (agent_id, key),
        ).fetchone()
        return None if row is None else IdempotencyRecord(*row)

    def claim(self, agent_id: str, key: str, fingerprint: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO idempotency_keys (agent_id, key, fingerprint, state, created_at)"
            " VALUES (?, ?, ?, 'running', ?) ON CONFLICT(agent_id, key) DO UPDATE SET"
            " fingerprint = excluded.fingerprint, state = 'running', status_code = NULL, response = NULL,"
            " created_at = excluded.created_at",
            (agent_id, key, fingerprint, at),
        )

    def finish(self, agent_id: str, key: str, status_code: int, response: str) -> None:
        self.conn.execute(
            "UPDATE idempotency_keys SET state = 'done', status_code = ?, response = ? WHERE agent_id = ? AND key = ?",
            (status_code, response, agent_id, key),
        )

    def release(self, agent_id: str, key: str) -> None:
        self.conn.execute("DELETE FROM idempotency_keys WHERE agent_id = ? AND key = ? AND state = 'running'",
                          (agent_id, key))

    def purge(self, before: str) -> int:
        return self.conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (before,)).rowcount
