"""SQLite: what limits free credits (:class:`~.repositories.RegistrationRepository`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..records import Invite

#: Characters of a code's hash that name it in lists.
INVITE_ID_LENGTH = 12


class SQLiteRegistrations:
    """Tables ``granted_emails``, ``invites`` and ``registration_origins``."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def claim_grant(self, email_key: str, agent_id: str, at: str) -> bool:
        return bool(self.conn.execute(
            "INSERT OR IGNORE INTO granted_emails (email_key, agent_id, granted_at) VALUES (?, ?, ?)",
            (email_key, agent_id, at),
        ).rowcount)

    def recent_origins(self, address: str, since: float) -> tuple[int, float | None]:
        count, oldest = self.conn.execute(
            "SELECT count(*), min(at) FROM registration_origins WHERE address = ? AND at > ?", (address, since)
        ).fetchone()
        return count, oldest

    def add_origin(self, address: str, at: float, forget_before: float) -> None:
        # Registrations are rare: the table holds about one window's worth, so this scan stays small.
        self.conn.execute("DELETE FROM registration_origins WHERE at < ?", (forget_before,))
        self.conn.execute("INSERT INTO registration_origins (address, at) VALUES (?, ?)", (address, at))

    def add_invites(self, code_hashes: Sequence[str], at: str) -> None:
        self.conn.executemany("INSERT INTO invites (code_hash, created_at) VALUES (?, ?)",
                              [(code_hash, at) for code_hash in code_hashes])

    def use_invite(self, code_hash: str, agent_id: str, at: str) -> bool:
        return bool(self.conn.execute(
            "UPDATE invites SET used_by = ?, used_at = ? WHERE code_hash = ? AND used_by IS NULL",
            (agent_id, at, code_hash),
        ).rowcount)

    def invites(self, limit: int, offset: int) -> list[Invite]:
        rows = self.conn.execute(
            "SELECT code_hash, created_at, used_by, used_at FROM invites ORDER BY created_at DESC, code_hash"
            " LIMIT ? OFFSET ?", (limit, offset),
        ).fetchall()
        return [Invite(r[0][:INVITE_ID_LENGTH], r[1], r[2], r[3]) for r in rows]
