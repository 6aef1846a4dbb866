"""SQL for agents and their capabilities."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from . import _sql
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
        self.conn.execute(_sql.insert("agents", tuple(row)), tuple(row.values()))

    def set_agent_capabilities(self, agent_id: str, capabilities: Iterable[str]) -> None:
        self.conn.execute("DELETE FROM agent_capabilities WHERE agent_id = ?", (agent_id,))
        self.conn.executemany(
            "INSERT INTO agent_capabilities (capability, agent_id) VALUES (?, ?)",
            [(c, agent_id) for c in capabilities],
        )

    def agent(self, agent_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM agents WHERE id = ?", (agent_id,)).fetchone()

    def agent_by_key_hash(self, key_hash: str, now: float) -> sqlite3.Row | None:
        """The agent whose key, or whose rotated-out key still in its grace period at ``now``, has this hash."""
        row = self.conn.execute("SELECT * FROM agents WHERE api_key_hash = ?", (key_hash,)).fetchone()
        if row is None:
            row = self.conn.execute("SELECT * FROM agents WHERE previous_key_hash = ? AND previous_key_expires_at > ?",
                                    (key_hash, now)).fetchone()
        return row

    def agent_id_by_name_key(self, name_key: str) -> str | None:
        row = self.conn.execute("SELECT id FROM agents WHERE name_key = ?", (name_key,)).fetchone()
        return None if row is None else row[0]

    def update_agent(self, agent_id: str, fields: dict[str, Any]) -> None:
        if fields:
            self.conn.execute(_sql.update("agents", tuple(fields)), (*fields.values(), agent_id))

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
        # A plain join, deduplicated and ordered here: SQL's IN (subquery) and ORDER BY would
        # each build a temporary table on every post, for what is usually no rows at all.
        rows = self.conn.execute(_receivers_sql(len(capabilities)), (exclude_id, *capabilities)).fetchall()
        if len(rows) > 1:
            rows = sorted({row[0]: row for row in rows}.values(), key=lambda row: row[0])
        return rows


@lru_cache(maxsize=32)
def _receivers_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        "SELECT a.rowid, a.id, a.webhook_url FROM agent_capabilities c JOIN agents a ON a.id = c.agent_id"
        f" WHERE a.id != ? AND c.capability IN ({marks}) AND a.webhook_url IS NOT NULL"
    )
