"""SQLite: tasks and their required capabilities (:class:`~.repositories.TaskRepository`)."""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from typing import Any

from ..queries import TaskOrder, TaskQuery
from ..records import Task, TaskChange
from . import _search, _sql
from .counters_sql import counter

# In the order of Task's fields (see _task).
_COLUMNS = (
    "t.id, t.title, t.description, t.budget, t.required_capabilities, t.status, t.kind, t.poster_id,"
    " t.assigned_to, t.result, t.rating,"
    " COALESCE((SELECT balance FROM accounts WHERE id = 'escrow:' || t.id), 0) AS escrow,"
    " t.created_at, t.updated_at, t.deadline, t.claim_seconds, t.review_hours, t.evaluator_id,"
    " t.claim_expires_at, t.submitted_at, t.review_ends_at, t.dispute_reason, t.worker_share, t.resolution_note"
)
_SORT: dict[TaskOrder, _sql.SortKey] = {
    TaskOrder.NEWEST: (("t.rowid", True),),
    TaskOrder.OLDEST: (("t.rowid", False),),
    TaskOrder.BUDGET_HIGH: (("t.budget", True), ("t.rowid", True)),
    TaskOrder.BUDGET_LOW: (("t.budget", False), ("t.rowid", True)),
}
_INSERT = (
    "INSERT INTO tasks (id, title, description, budget, required_capabilities, status, kind, poster_id,"
    " assigned_to, result, rating, created_at, updated_at, deadline, claim_seconds, review_hours, evaluator_id,"
    " due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _changeable(task: Task) -> dict[str, Any]:
    """The columns a change of ``task`` may write, by name."""
    return {"status": task.status, "assigned_to": task.assigned_to, "result": task.result, "rating": task.rating,
            "updated_at": task.updated_at, "claim_expires_at": task.claim_expires_at,
            "submitted_at": task.submitted_at, "review_ends_at": task.review_ends_at,
            "dispute_reason": task.dispute_reason, "worker_share": task.worker_share,
            "resolution_note": task.resolution_note, "due_at": task.due_at}


@lru_cache(maxsize=128)
def _update_sql(columns: tuple[str, ...]) -> str:
    return "UPDATE tasks SET " + ", ".join(f"{c} = ?" for c in columns) + " WHERE id = ?"

# One read for everything a change needs: the task, its escrow, whether its poster has a
# webhook (to notify), the acceptor's capabilities and the fee setting as stored now.
_FOR_CHANGE = (
    f"SELECT {_COLUMNS}, p.webhook_url IS NOT NULL AS poster_webhook,"
    " (SELECT capabilities FROM agents WHERE id = ?2) AS acceptor_capabilities,"
    " (SELECT value FROM settings WHERE key = 'fee_percent') AS fee_percent"
    " FROM tasks t JOIN agents p ON p.id = t.poster_id WHERE t.id = ?1"
)


class SQLiteTasks:
    """Tasks in table ``tasks``; required capabilities as a JSON list there and indexed
    in ``task_capabilities``; the escrow read from the ledger's account."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert(self, task: Task) -> None:
        capabilities = task.required_capabilities
        rowid = self.conn.execute(_INSERT, (
            task.id, task.title, task.description, task.budget, json.dumps(list(capabilities)), task.status,
            task.kind, task.poster_id, task.assigned_to, task.result, task.rating, task.created_at, task.updated_at,
            task.deadline, task.claim_seconds, task.review_hours, task.evaluator_id, task.due_at,
        )).lastrowid
        if capabilities:
            self.conn.executemany(
                "INSERT INTO task_capabilities (capability, task_rowid) VALUES (?, ?)",
                [(c, rowid) for c in capabilities],
            )

    def get(self, task_id: str) -> Task | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM tasks t WHERE t.id = ?", (task_id,)).fetchone()
        return None if row is None else _task(row)

    def for_change(self, task_id: str, acceptor_id: str | None = None) -> TaskChange | None:
        row = self.conn.execute(_FOR_CHANGE, (task_id, acceptor_id)).fetchone()
        if row is None:
            return None
        acceptor, fee = row["acceptor_capabilities"], row["fee_percent"]
        return TaskChange(
            task=_task(row),
            poster_has_webhook=bool(row["poster_webhook"]),
            acceptor_capabilities=None if acceptor is None else _capabilities(acceptor),
            fee_percent=0 if fee is None else int(fee),  # an integer setting; its JSON is its digits
        )

    def update(self, task: Task, before: Task | None = None) -> None:
        values = _changeable(task)
        if before is not None:  # write only what changed: fewer columns, and no index touched needlessly
            old = _changeable(before)
            values = {name: value for name, value in values.items() if value != old[name] or name == "updated_at"}
        self.conn.execute(_update_sql(tuple(values)), (*values.values(), task.id))

    def due(self, now: str, limit: int) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT id, status FROM tasks WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        )]

    def list(self, query: TaskQuery) -> list[Task]:
        return self.page(query, None)[0]

    def page(self, query: TaskQuery, after: tuple[Any, ...] | None) -> tuple[list[Task], tuple[Any, ...] | None]:
        rows, last = _sql.keyset_page(self.conn, _COLUMNS, "tasks t", _filter(query), _SORT[query.order],
                                      query.limit, query.offset, after)
        return [_task(r) for r in rows], last

    def count(self, query: TaskQuery) -> tuple[int, bool]:
        narrowing = [(kind, key) for kind, key in (
            ("capability", query.capability), ("poster", query.poster_id), ("assignee", query.assigned_to),
            ("involving", query.involving)) if key]
        # An evaluator's tasks have no counter (few rows, found by their own index): counted.
        if not query.search and not query.evaluator_id and len(narrowing) <= 1:
            kind, key = narrowing[0] if narrowing else ("tasks", "")
            return counter(self.conn, kind, key, query.status), False
        where, args = _filter(query)
        return _sql.capped_count(self.conn, f"SELECT 1 FROM tasks t{where}", args)

    def running_direct(self, updated_before: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM tasks WHERE kind = 'direct' AND status = 'assigned' AND updated_at < ?"
            " AND assigned_to IS NOT NULL ORDER BY rowid",
            (updated_before,),
        )]


def _filter(query: TaskQuery) -> tuple[str, list[Any]]:
    where, args = [], []
    for value, condition in (
        (query.status, "t.status = ?"),
        (query.capability, "t.rowid IN (SELECT task_rowid FROM task_capabilities WHERE capability = ?)"),
        (query.poster_id, "t.poster_id = ?"),
        (query.assigned_to, "t.assigned_to = ?"),
        (query.evaluator_id, "t.evaluator_id = ?"),
    ):
        if value:
            where.append(condition)
            args.append(value)
    if query.search:
        condition, more = _search.condition(query.search, "t", "tasks_fts", ("title", "description"))
        where.append(condition)
        args += more
    if query.involving:
        # Two indexed lookups rather than an OR, which would scan every task.
        where.append("t.rowid IN (SELECT rowid FROM tasks WHERE poster_id = ?"
                     " UNION SELECT rowid FROM tasks WHERE assigned_to = ?)")
        args += [query.involving, query.involving]
    return (" WHERE " + " AND ".join(where) if where else ""), args


@lru_cache(maxsize=1024)
def _capabilities(stored: str) -> tuple[str, ...]:
    """A task's required capabilities from their JSON; few lists recur, so each is decoded once."""
    return tuple(json.loads(stored))


def _task(row: sqlite3.Row) -> Task:
    # The columns come in Task's field order; only the capabilities need decoding.
    return Task(*row[:4], _capabilities(row[4]), *row[5:24])
