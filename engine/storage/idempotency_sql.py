"""SQL for Idempotency-Key records: the first response to a key, replayed on retries."""

from __future__ import annotations

import sqlite3


class IdempotencySQL:
    conn: sqlite3.Connection

    def idempotency_record(self, agent_id: str, key: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT fingerprint, state, status_code, response, created_at FROM idempotency_keys"
            " WHERE agent_id = ? AND key = ?",
            (agent_id, key),
        ).fetchone()

    def claim_idempotency_key(self, agent_id: str, key: str, fingerprint: str, at: str) -> None:
        """Mark the key as running (replacing an expired or abandoned record of it)."""
        self.conn.execute(
            "INSERT INTO idempotency_keys (agent_id, key, fingerprint, state, created_at)"
            " VALUES (?, ?, ?, 'running', ?) ON CONFLICT(agent_id, key) DO UPDATE SET"
            " fingerprint = excluded.fingerprint, state = 'running', status_code = NULL, response = NULL,"
            " created_at = excluded.created_at",
            (agent_id, key, fingerprint, at),
        )

    def finish_idempotency_key(self, agent_id: str, key: str, status_code: int, response: str) -> None:
        self.conn.execute(
            "UPDATE idempotency_keys SET state = 'done', status_code = ?, response = ? WHERE agent_id = ? AND key = ?",
            (status_code, response, agent_id, key),
        )

    def purge_idempotency_keys(self, before: str) -> int:
        """Delete records created before ``before``; returns how many."""
        return self.conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (before,)).rowcount
