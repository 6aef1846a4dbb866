"""SQL for tasks and their required capabilities."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from . import _sql
from ._like import contains_pattern

_TASK_COLUMNS = (
    "t.id, t.title, t.description, t.budget, t.required_capabilities, t.status, t.kind, t.poster_id,"
    " t.assigned_to, t.result, t.rating, t.created_at, t.updated_at,"
    " COALESCE((SELECT balance FROM accounts WHERE id = 'escrow:' || t.id), 0) AS escrow"
)
_TASK_ORDER = {
    "newest": "t.rowid DESC",
    "oldest": "t.rowid ASC",
    "budget_high": "t.budget DESC, t.rowid DESC",
    "budget_low": "t.budget ASC, t.rowid DESC",
}
TASK_ORDERS = tuple(_TASK_ORDER)


class TaskSQL:
    conn: sqlite3.Connection

    def insert_task(self, row: dict[str, Any]) -> int:
        return self.conn.execute(_sql.insert("tasks", tuple(row)), tuple(row.values())).lastrowid

    def add_task_capabilities(self, task_rowid: int, capabilities: Iterable[str]) -> None:
        self.conn.executemany(
            "INSERT INTO task_capabilities (capability, task_rowid) VALUES (?, ?)",
            [(c, task_rowid) for c in capabilities],
        )

    def task(self, task_id: str) -> sqlite3.Row | None:
        return self.conn.execute(f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.id = ?", (task_id,)).fetchone()

    def task_for_change(self, task_id: str, acceptor_id: str | None = None) -> sqlite3.Row | None:
        """Everything a change of the task needs, in one read: the task, its escrow, its
        poster's webhook URL (to notify) and the market's ``fee_percent`` setting as stored
        now (JSON), for a payout in this same transaction.

        With ``acceptor_id``, also that agent's capabilities as ``acceptor_capabilities``
        (None when there is no such agent), saving accept a second read.
        """
        return self.conn.execute(
            f"SELECT {_TASK_COLUMNS}, p.webhook_url AS poster_webhook,"
            " (SELECT capabilities FROM agents WHERE id = ?2) AS acceptor_capabilities,"
            " (SELECT value FROM settings WHERE key = 'fee_percent') AS fee_percent"
            " FROM tasks t JOIN agents p ON p.id = t.poster_id WHERE t.id = ?1",
            (task_id, acceptor_id),
        ).fetchone()

    def update_task(self, task_id: str, fields: dict[str, Any]) -> None:
        self.conn.execute(_sql.update("tasks", tuple(fields)), (*fields.values(), task_id))

    def _task_filter(
        self, status: str | None, capability: str | None, search: str | None,
        poster_id: str | None, assigned_to: str | None,
    ) -> tuple[str, list[Any]]:
        where, args = [], []
        if status:
            where.append("t.status = ?")
            args.append(status)
        if capability:
            where.append("t.rowid IN (SELECT task_rowid FROM task_capabilities WHERE capability = ?)")
            args.append(capability)
        if search:
            where.append("t.title LIKE ? ESCAPE '\\'")
            args.append(contains_pattern(search))
        if poster_id:
            where.append("t.poster_id = ?")
            args.append(poster_id)
        if assigned_to:
            where.append("t.assigned_to = ?")
            args.append(assigned_to)
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def list_tasks(
        self, *, status: str | None, capability: str | None, search: str | None, poster_id: str | None,
        assigned_to: str | None, order: str, limit: int, offset: int,
    ) -> list[sqlite3.Row]:
        where, args = self._task_filter(status, capability, search, poster_id, assigned_to)
        return self.conn.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks t{where} ORDER BY {_TASK_ORDER[order]} LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()

    def count_tasks(
        self, *, status: str | None = None, capability: str | None = None, search: str | None = None,
        poster_id: str | None = None, assigned_to: str | None = None,
    ) -> int:
        where, args = self._task_filter(status, capability, search, poster_id, assigned_to)
        return self.conn.execute(f"SELECT count(*) FROM tasks t{where}", args).fetchone()[0]

    def task_counts_by_status(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT status, count(*) FROM tasks GROUP BY status")}
