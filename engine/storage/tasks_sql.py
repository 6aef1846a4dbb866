"""SQLite: tasks and their required capabilities (:class:`~.repositories.TaskRepository`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache, partial
from typing import Any, NamedTuple

from ..queries import TaskOrder, TaskQuery
from ..records import Task, TaskChange
from . import _search, _sql
from ._accounts import escrow_key
from .counters_sql import counter
from .schema import STATUS_CODE, TASK_STATUS_CODES

# In the order of Task's fields (see _task).
_COLUMNS = (
    "t.id, t.title, t.description, t.budget, t.required_capabilities, t.status, t.kind, t.poster_id,"
    " t.assigned_to, t.result, t.rating,"
    f" COALESCE((SELECT balance FROM accounts WHERE key = {escrow_key('t.rowid')}), 0) AS escrow,"
    " t.created_at, t.updated_at, t.deadline, t.claim_seconds, t.review_hours, t.evaluator_id,"
    " t.claim_expires_at, t.submitted_at, t.review_ends_at, t.dispute_reason, t.worker_share, t.resolution_note"
)
_SORT: dict[TaskOrder, _sql.SortKey] = {
    TaskOrder.NEWEST: (("t.rowid", True),),
    TaskOrder.OLDEST: (("t.rowid", False),),
    TaskOrder.BUDGET_HIGH: (("t.budget", True), ("t.rowid", True)),
    # Lowest budget first, newest first among equals: one direction over the generated column
    # neg_budget (= -budget, migration 15), so a cursor seeks its index instead of sorting ties.
    TaskOrder.BUDGET_LOW: (("t.neg_budget", True), ("t.rowid", True)),
    TaskOrder.RELEVANCE: (("t.rowid", True),),  # without an indexed search; with one, see _selection
}
_BY_ROWID = (TaskOrder.NEWEST, TaskOrder.OLDEST, TaskOrder.RELEVANCE)


def by_agent(column: str) -> str:
    """SQL: ``column`` (a task's poster_id or assigned_to) is the agent id given twice as arguments.

    Those columns are indexed by their ids' last 8 characters (schema migration 22: a quarter of
    the whole id's bytes; UUIDv7 ends in random bits), so the condition names that first. The
    whole id is compared as an expression (``|| ''``): SQLite would otherwise put the argument
    in place of the column inside ``substr`` (constant propagation) and no longer see the index."""
    return f"substr({column}, 29) = substr(?, 29) AND {column} || '' = ?"


# A poster's or assignee's tasks (four arguments: the agent id four times): two indexed lookups
# rather than an OR, which would scan every task.
_INVOLVING = (f"t.rowid IN (SELECT rowid FROM tasks WHERE {by_agent('poster_id')}"
              f" UNION SELECT rowid FROM tasks WHERE {by_agent('assigned_to')})")
# The budget orders over a capability's rows of task_capabilities (schema migration 20's indexes):
# the same sort key values as _SORT's, so a cursor reads the same either way.
_CAPABILITY_SORT: dict[TaskOrder, _sql.SortKey] = {
    TaskOrder.BUDGET_HIGH: (("c.budget", True), ("c.task_rowid", True)),
    TaskOrder.BUDGET_LOW: (("c.neg_budget", True), ("c.task_rowid", True)),
}
# A capability with at most this many tasks is read whole from its index and sorted; a
# commoner one is checked row by row while the order's index is walked (see _selection).
_FEW = 2_000
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

    __slots__ = ("conn", "capped")
    #: The WHERE condition of a text search (see ``_search.condition``).
    search_condition = staticmethod(_search.condition)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        #: Search texts known to reach their capped total (None: count every time); the store sets it.
        self.capped: _search.CappedTexts | None = None

    def insert(self, task: Task) -> None:
        capabilities = task.required_capabilities
        rowid = self.conn.execute(_INSERT, (
            task.id, task.title, task.description, task.budget, _capabilities_json(tuple(capabilities)), task.status,
            task.kind, task.poster_id, task.assigned_to, task.result, task.rating, task.created_at, task.updated_at,
            task.deadline, task.claim_seconds, task.review_hours, task.evaluator_id, task.due_at,
        )).lastrowid
        if capabilities:
            self.conn.executemany(
                f"INSERT INTO task_capabilities (capability, task_rowid, budget, status) VALUES (?, ?, ?, {STATUS_CODE})",
                [(c, rowid, task.budget, task.status) for c in capabilities],
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
        sql, args, sort = statement(self.conn, query, after, _COLUMNS, search=self.search_condition)
        rows, last = _sql.page_of(self.conn.execute(sql, (*args, query.limit + 1, query.offset)).fetchall(),
                                  query.limit, sort)
        return [_task(r) for r in rows], last

    def count(self, query: TaskQuery) -> tuple[int, bool]:
        narrowing = [(kind, key) for kind, key in (
            ("capability", query.capability), ("poster", query.poster_id), ("assignee", query.assigned_to),
            ("involving", query.involving)) if key]
        # An evaluator's tasks have no counter (few rows, found by their own index): counted.
        if not query.search and not query.evaluator_id and len(narrowing) <= 1:
            kind, key = narrowing[0] if narrowing else ("tasks", "")
            return counter(self.conn, kind, key, query.status), False
        # A search alone counts at most the cap among all tasks: once reached, it stays reached.
        alone = bool(query.search) and not (query.status or query.evaluator_id or narrowing)
        cap = _sql.SEARCH_COUNT_CAP
        if alone and self.capped is not None and self.capped.reached(query.search, cap):
            return cap, True
        total = _sql.scanned_count(self.conn, *counted_rows(self.conn, query, self.search_condition))
        if alone and total[1] and self.capped is not None:
            self.capped.add(query.search, cap)
        return total

    def running_direct(self, updated_before: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM tasks WHERE kind = 'direct' AND status = 'assigned' AND updated_at < ?"
            " AND assigned_to IS NOT NULL ORDER BY rowid",
            (updated_before,),
        )]


Counts = Callable[..., int]  # (kind, key, status=None) -> a counter, as counters_sql.counter reads it


def statement(conn: sqlite3.Connection, query: TaskQuery, key: tuple[Any, ...] | None, columns: str,
              counts: Counts | None = None, search: _search.Condition = _search.condition,
              ) -> tuple[str, list[Any], _sql.SortKey]:
    """The SELECT of ``query``'s page after sort key ``key``, reading ``columns`` (see :func:`_sql.keyset_statement`).

    Every list walks one index in the page's order and stops after the page (SPEC §12):
    search and capability lists in rowid order walk their own index (FTS5's rowids, or
    ``task_capabilities``) and fetch each task; "my tasks" in rowid order reads at most a
    page from each of the poster and assignee indexes and merges them.

    Returns:
        The statement, its arguments (the page's limit plus one and offset still to add)
        and the sort key its result columns end with. ``counts`` (the market's counters by
        default) decides which index a capability list walks; ``search`` is the store's text
        search condition (only SQLite's own, :func:`_search.condition`, walks FTS5's index).
    """
    source, where, args, sort, arms, phrase = _selection(query, counts or partial(counter, conn), search)
    if phrase is not None:
        where.append("tasks_fts MATCH ?")
        args.append(phrase)
    if query.involving:
        if source == "tasks t" and query.order in _BY_ROWID:
            # Each side reads at most the rows this page could show, from its index.
            keyed = list(where)
            keyed_args = list(args)
            if key is not None:
                condition, more = _sql.after(sort, key)
                keyed.append(condition)
                keyed_args += more
            most = query.limit + 1 + query.offset
            sides = [f"SELECT rowid FROM (SELECT t.rowid FROM tasks t WHERE {' AND '.join([by_agent(c), *keyed])}"
                     f" ORDER BY {_sql.order_by(sort)} LIMIT {most}) AS side" for c in ("t.poster_id", "t.assigned_to")]
            where.append(f"t.rowid IN ({' UNION ALL '.join(sides)})")
            args += [query.involving, query.involving, *keyed_args, query.involving, query.involving, *keyed_args]
        else:
            where.append(_INVOLVING)
            args += [query.involving] * 4
    sql, args = _sql.keyset_statement(columns, source, (" WHERE " + " AND ".join(where) if where else "", args),
                                      sort, key, arms)
    return sql, args, sort


def counted_rows(conn: sqlite3.Connection, query: TaskQuery,
                 search: _search.Condition = _search.condition) -> tuple[str, list[Any], int]:
    """The rows a total without a counter scans (a search, two narrowing filters), each with
    column ``ok`` (1 if it counts), their arguments and the cap (see :func:`_sql.scanned_count`).

    A search's matches stream from FTS5's index (in its cheaper, ascending rowid order) and the
    scan stops at the cap whatever share of them the other filters pass: the total is then
    the count among those scanned, a lower bound, and costs the same for every filter."""
    if query.involving:
        where, args = _filter(query, search)
        return f"SELECT 1 AS ok FROM tasks t{where}", args, _sql.COUNT_CAP
    source, where, args, _, _, phrase = _selection(replace(query, order=TaskOrder.NEWEST), partial(counter, conn),
                                                   search)
    if phrase is not None:
        if not where:  # the matches alone: no task read
            return "SELECT 1 AS ok FROM tasks_fts WHERE tasks_fts MATCH ?", [phrase], _sql.SEARCH_COUNT_CAP
        ok = f"CASE WHEN {' AND '.join(where)} THEN 1 ELSE 0 END"
        return f"SELECT {ok} AS ok FROM {source} WHERE tasks_fts MATCH ?", [*args, phrase], _sql.SEARCH_COUNT_CAP
    return (f"SELECT 1 AS ok FROM {source} WHERE {' AND '.join(where)}", args,
            _sql.SEARCH_COUNT_CAP if query.search else _sql.COUNT_CAP)


class _Selected(NamedTuple):
    """What :func:`_selection` makes of a query."""

    source: str  # the FROM clause
    where: list[str]  # WHERE conditions, ANDed
    args: list[Any]  # their arguments, in order
    sort: _sql.SortKey
    arms: _sql.Arms  # walks merged (see _sql.keyset_statement)
    phrase: str | None  # a search through FTS5's index: its phrase, for the caller's "tasks_fts MATCH ?"


def _selection(query: TaskQuery, counts: Counts, search: _search.Condition) -> _Selected:
    """The FROM clause, WHERE conditions (with arguments), sort key and arms (walks merged, see
    :func:`_sql.keyset_statement`) of ``query``, but for ``involving``; a search through FTS5's
    index leaves its MATCH to the caller (a count takes it out of the conditions it counts).

    Another store's ``search`` (PostgreSQL's) is only a WHERE condition: its search lists keep
    the order's own sort, and relevance is newest first there (no bm25)."""
    sort = _SORT[query.order]
    by_rowid = query.order in _BY_ROWID
    newest = sort[0][1]
    source, where, args, phrase = "tasks t", [], [], None
    for value, condition in ((query.status, "t.status = ?"), (query.poster_id, by_agent("t.poster_id")),
                             (query.assigned_to, by_agent("t.assigned_to")), (query.evaluator_id, "t.evaluator_id = ?")):
        if value:
            where.append(condition)
            args += [value] * condition.count("?")
    if query.search and by_rowid and search is _search.condition and len(query.search) >= _search.MIN_INDEXED:
        # FTS5 hands its matches out in rowid order, either way, from a rowid on; relevance
        # sorts every match by bm25 (FTS5's rank: lower is better).
        source = "tasks_fts CROSS JOIN tasks t ON t.rowid = tasks_fts.rowid"
        sort = ((("tasks_fts.rank", False), ("t.rowid", True)) if query.order is TaskOrder.RELEVANCE
                else (("tasks_fts.rowid", newest),))
        phrase = _search.phrase(query.search)
    elif query.search:
        condition, more = search(query.search, "t", "tasks_fts", ("title", "description"))
        where.append(condition)
        args += more
    arms: _sql.Arms = None
    if query.capability:
        tasks = counts("capability", query.capability, query.status)
        # A budget order walks the capability's budget index unless an agent's few tasks are
        # the narrower set (read by their own index and sorted).
        walkable = by_rowid or (query.order in _CAPABILITY_SORT and not (
            query.poster_id or query.assigned_to or query.evaluator_id or query.involving))
        in_status: dict[str, int] = {}
        if walkable and not by_rowid and not query.status:
            # One walk per status the capability has, merged: every one of its tasks is in one
            # of them unless a status unknown here came in through SQL (then probe, below).
            in_status = {s: n for s in TASK_STATUS_CODES if (n := counts("capability", query.capability, s))}
            walkable = sum(in_status.values()) == tasks
        if walkable and source == "tasks t" and tasks <= counts("tasks", "", query.status):
            # The capability's own index, in the page's order (CROSS JOIN keeps it outermost):
            # with a status, its rows in that status (migration 24); without one in a budget
            # order, each status's walk merged (the budget indexes lead with the status).
            source = "task_capabilities c CROSS JOIN tasks t ON t.rowid = c.task_rowid"
            sort = (("c.task_rowid", newest),) if by_rowid else _CAPABILITY_SORT[query.order]
            where.append("c.capability = ?")
            args.append(query.capability)
            if query.status:
                where.append(f"c.status = {STATUS_CODE}")
                args.append(query.status)
            elif not by_rowid:
                arms = [(f"c.status = {STATUS_CODE}", [status]) for status in in_status]
            return _Selected(source, where, args, sort, arms, phrase)
        if tasks <= _FEW:
            status = f" AND status = {STATUS_CODE}" if query.status else ""
            where.append(f"t.rowid IN (SELECT task_rowid FROM task_capabilities WHERE capability = ?{status})")
            args += [query.capability, query.status] if query.status else [query.capability]
        else:
            where.append("EXISTS (SELECT 1 FROM task_capabilities WHERE capability = ? AND task_rowid = t.rowid)")
            args.append(query.capability)
    return _Selected(source, where, args, sort, arms, phrase)


def _filter(query: TaskQuery, search: _search.Condition = _search.condition) -> tuple[str, list[Any]]:
    where, args = [], []
    for value, condition in (
        (query.status, "t.status = ?"),
        (query.capability, "t.rowid IN (SELECT task_rowid FROM task_capabilities WHERE capability = ?)"),
        (query.poster_id, by_agent("t.poster_id")),
        (query.assigned_to, by_agent("t.assigned_to")),
        (query.evaluator_id, "t.evaluator_id = ?"),
    ):
        if value:
            where.append(condition)
            args += [value] * condition.count("?")
    if query.search:
        condition, more = search(query.search, "t", "tasks_fts", ("title", "description"))
        where.append(condition)
        args += more
    if query.involving:
        where.append(_INVOLVING)
        args += [query.involving] * 4
    return (" WHERE " + " AND ".join(where) if where else ""), args


@lru_cache(maxsize=1024)
def _capabilities_json(capabilities: tuple[str, ...]) -> str:
    """A task's required capabilities as stored (a JSON list); few lists recur, so each is encoded once."""
    return json.dumps(list(capabilities))


@lru_cache(maxsize=1024)
def _capabilities(stored: str) -> tuple[str, ...]:
    """A task's required capabilities from their JSON; few lists recur, so each is decoded once."""
    return tuple(json.loads(stored))


def _task(row: sqlite3.Row) -> Task:
    # The columns come in Task's field order; only the capabilities need decoding.
    return Task(*row[:4], _capabilities(row[4]), *row[5:24])
