"""Every documented filter x order of the task and agent lists reads an index (SPEC §12), on
the first page and on a page after a cursor: ``EXPLAIN QUERY PLAN`` never shows a scan of
table ``tasks`` or ``agents`` except the primary key's own walk (newest/oldest with no
filter), which stops after one page. A sort of the rows an index selected (a temp B-tree
after a SEARCH) is allowed: it is bounded by what the filter selects. Text search reads its
FTS5 index (text of three characters or more; shorter text is a LIKE walk, see storage/_search.py).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from engine import Market
from engine import validation as v
from engine.queries import AgentOrder, TaskOrder
from engine.storage import _sql, agents_sql, tasks_sql

pytestmark = pytest.mark.sqlite_only  # SQLite's query planner; PostgreSQL's plans are its own

TASK_FILTERS: list[dict[str, Any]] = [
    {}, {"status": "open"}, {"status": "completed"}, {"capability": "research"}, {"poster_id": "p"},
    {"assigned_to": "p"}, {"involving": "p"}, {"status": "open", "capability": "research"},
    {"status": "assigned", "poster_id": "p"}, {"evaluator_id": "p"}, {"search": "parser"},
    {"search": "parser", "status": "open"},
]
AGENT_FILTERS: list[dict[str, Any]] = [{}, {"capability": "research"}, {"search": "writer"}]
_SCAN = re.compile(r"^SCAN (t|a|tasks|agents)\b(?!.*USING)")


def _plan(market: Market, sql: str, args: list[Any]) -> list[str]:
    with market.context.store.read() as tx:
        return [row[3] for row in tx.tasks.conn.execute("EXPLAIN QUERY PLAN " + sql, args)]


def _statement(columns: str, source: str, filtered: tuple[str, list[Any]], sort: _sql.SortKey,
               key: tuple[Any, ...] | None) -> tuple[str, list[Any]]:
    where, args = filtered
    if key is not None:
        condition, more = _sql.after(sort, key)
        where, args = (f"{where} AND {condition}" if where else f" WHERE {condition}"), [*args, *more]
    return f"SELECT {columns} FROM {source}{where} ORDER BY {_sql.order_by(sort)} LIMIT 21", args


def _scans(plan: list[str]) -> list[str]:
    return [line for line in plan if _SCAN.match(line)]


@pytest.mark.parametrize(("filters", "order"), list(itertools.product(TASK_FILTERS, TaskOrder)))
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "after a cursor"])
def test_every_task_list_reads_an_index(market: Market, filters: dict[str, Any], order: TaskOrder,
                                        deep: bool) -> None:
    sort = tasks_sql._SORT[order]
    key = tuple(1 for _ in sort) if deep else None
    sql, args = _statement("t.id", "tasks t", tasks_sql._filter(v.task_query(order=order, **filters)), sort, key)
    plan = _plan(market, sql, args)
    primary_key_walk = not filters and order in (TaskOrder.NEWEST, TaskOrder.OLDEST)
    assert primary_key_walk or not _scans(plan), plan


@pytest.mark.parametrize(("filters", "order"), list(itertools.product(AGENT_FILTERS, AgentOrder)))
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "after a cursor"])
def test_every_agent_list_reads_an_index(market: Market, filters: dict[str, Any], order: AgentOrder,
                                         deep: bool) -> None:
    sort = agents_sql._SORT[order]
    key = tuple(1 for _ in sort) if deep else None
    sql, args = _statement("a.id", "agents a", agents_sql._filter(v.agent_query(order=order, **filters)), sort, key)
    plan = _plan(market, sql, args)
    primary_key_walk = not filters and order is AgentOrder.NEWEST
    assert primary_key_walk or not _scans(plan), plan
