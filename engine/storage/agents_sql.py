"""SQL for agents and their capabilities."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ._like import contains_pattern

_AGENT_ORDER = {
    "newest": "a.rowid DESC",
    "reputation": "CASE WHEN a.rating_count = 0 THEN 1 ELSE 0 END,"
    " CAST(a.rating_sum AS REAL) / MAX(a.rating_count, 1) DESC, a.rowid DESC",
    "price": "a.price_per_task ASC, a.rowid DESC",
    "tasks": "a.total_tasks DESC, a.rowid DESC",
    "name": "a.name_key ASC",
}
AGENT_ORDERS = tuple(_AGENT_ORDER)


class AgentSQL:
    conn: sqlite3.Connection

    def insert_agent(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" * len(row))
        self.conn.execute(f"INSERT INTO agents ({cols}) VALUES ({marks})", tuple(row.values()))

    def set_agent_capabilities(self, agent_id: str, capabilities: Iterable[str]) -> None:
        self.conn.execute("DELETE FROM agent_capabilities WHERE agent_id = ?", (agent_id,))
        self.conn.executemany(
            "INSERT INTO agent_capabilities (capability, agent_id) VALUES (?, ?)",
            [(c, agent_id) for c in capabilities],
        )

    def agent(self, agent_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM agents WHERE id = ?", (agent_id,)).fetchone()

    def agent_by_key_hash(self, key_hash: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM agents WHERE api_key_hash = ?", (key_hash,)).fetchone()

    def agent_id_by_name_key(self, name_key: str) -> str | None:
        row = self.conn.execute("SELECT id FROM agents WHERE name_key = ?", (name_key,)).fetchone()
        return None if row is None else row[0]

    def update_agent(self, agent_id: str, fields: dict[str, Any]) -> None:
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self.conn.execute(f"UPDATE agents SET {sets} WHERE id = ?", (*fields.values(), agent_id))

    def add_rating(self, agent_id: str, rating: int) -> None:
        self.conn.execute(
            "UPDATE agents SET rating_sum = rating_sum + ?, rating_count = rating_count + 1 WHERE id = ?",
            (rating, agent_id),
        )

    def count_completed(self, agent_id: str) -> None:
        self.conn.execute("UPDATE agents SET total_tasks = total_tasks + 1 WHERE id = ?", (agent_id,))

    def _agent_filter(self, capability: str | None, search: str | None) -> tuple[str, list[Any]]:
        where, args = [], []
        if capability:
            where.append("a.id IN (SELECT agent_id FROM agent_capabilities WHERE capability = ?)")
            args.append(capability)
        if search:
            where.append("(a.name LIKE ? ESCAPE '\\' OR a.description LIKE ? ESCAPE '\\')")
            pattern = contains_pattern(search)
            args += [pattern, pattern]
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def list_agents(
        self, capability: str | None, search: str | None, order: str, limit: int, offset: int
    ) -> list[sqlite3.Row]:
        where, args = self._agent_filter(capability, search)
        return self.conn.execute(
            f"SELECT a.* FROM agents a{where} ORDER BY {_AGENT_ORDER[order]} LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()

    def count_agents(self, capability: str | None = None, search: str | None = None) -> int:
        where, args = self._agent_filter(capability, search)
        return self.conn.execute(f"SELECT count(*) FROM agents a{where}", args).fetchone()[0]

    def webhook_receivers(self, capabilities: Sequence[str], exclude_id: str) -> list[sqlite3.Row]:
        """Agents with a webhook whose capabilities overlap ``capabilities``, but not ``exclude_id``."""
        if not capabilities:
            return []
        marks = ", ".join("?" * len(capabilities))
        return self.conn.execute(
            "SELECT id, webhook_url FROM agents WHERE webhook_url IS NOT NULL AND id != ? AND id IN"
            f" (SELECT agent_id FROM agent_capabilities WHERE capability IN ({marks})) ORDER BY rowid",
            (exclude_id, *capabilities),
        ).fetchall()
