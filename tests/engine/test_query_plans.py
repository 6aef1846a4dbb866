"""Every documented filter x order of the task and agent lists reads an index (SPEC §12), on
the first page and on a page after a cursor: ``EXPLAIN QUERY PLAN`` never shows a scan of
table ``tasks`` or ``agents`` except the primary key's own walk (newest/oldest with no
filter), which stops after one page. A sort of the rows an index selected (a temp B-tree
after a SEARCH) is allowed only where it is bounded by what a narrow filter selects (one
agent's tasks in a budget order, a search in a budget order); the lists that grow with the
whole market (no filter, a status, a capability, "my tasks", a search, in the orders
:data:`FLAT` names) walk an index in the page's order and stop after the page: no sort, and
no set of rows read whole first. Text search reads its FTS5 index (text of three characters
or more; shorter text is a LIKE walk, see storage/_search.py).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from engine import Market
from engine import validation as v
from engine.queries import AgentOrder, TaskOrder
from engine.states import TaskStatus
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
_ROWID_ORDERS = (TaskOrder.NEWEST, TaskOrder.OLDEST)  # relevance without a search too; with one it sorts
#: The lists that read no more rows than their page, in every order or the rowid orders.
FLAT: list[tuple[dict[str, Any], tuple[TaskOrder, ...]]] = [
    ({}, tuple(TaskOrder)), ({"status": "open"}, tuple(TaskOrder)), ({"status": "completed"}, tuple(TaskOrder)),
    ({"capability": "research"}, tuple(TaskOrder)), ({"status": "open", "capability": "research"}, tuple(TaskOrder)),
    ({"poster_id": "p"}, _ROWID_ORDERS), ({"assigned_to": "p"}, _ROWID_ORDERS), ({"evaluator_id": "p"}, _ROWID_ORDERS),
    ({"involving": "p"}, _ROWID_ORDERS), ({"search": "parser"}, _ROWID_ORDERS),
    ({"search": "parser", "status": "open"}, _ROWID_ORDERS),
]


def _large(kind: str, key: str = "", status: str | None = None) -> int:
    """Counters of a large market: a capability of 200,000 tasks in each status, 300,000 tasks in each status."""
    return (200_000 if kind == "capability" else 300_000) * (1 if status else len(TaskStatus))


def _task_plan(market: Market, filters: dict[str, Any], order: TaskOrder, deep: bool) -> list[str]:
    query = v.task_query(order=order, **filters)
    with market.context.store.read() as tx:
        sql, args, sort = tasks_sql.statement(tx.tasks.conn, query, None, "t.id", _large)
        if deep:
            sql, args, _ = tasks_sql.statement(tx.tasks.conn, query, tuple(1 for _ in sort), "t.id", _large)
    return _plan(market, sql, [*args, 21, 0])


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
    plan = _task_plan(market, filters, order, deep)
    primary_key_walk = not filters and order in (TaskOrder.NEWEST, TaskOrder.OLDEST, TaskOrder.RELEVANCE)
    assert primary_key_walk or not _scans(plan), plan


@pytest.mark.parametrize(("filters", "order"), [(f, o) for f, orders in FLAT for o in orders])
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "after a cursor"])
def test_a_list_of_the_whole_market_reads_only_its_page(market: Market, filters: dict[str, Any], order: TaskOrder,
                                                        deep: bool) -> None:
    plan = _task_plan(market, filters, order, deep)
    assert not [line for line in plan if "TEMP B-TREE" in line], plan
    if "involving" in filters:  # a page from each side's index (co-routines with a LIMIT), merged
        assert sum("CO-ROUTINE" in line for line in plan) == 2, plan
    else:
        assert not [line for line in plan if "LIST SUBQUERY" in line], plan


def test_relevance_ranks_the_matches_from_the_fts_index(market: Market) -> None:
    plan = _task_plan(market, {"search": "parser", "status": "open"}, TaskOrder.RELEVANCE, deep=True)
    assert plan[0].startswith("SCAN tasks_fts VIRTUAL TABLE") and not _scans(plan), plan


def test_a_rare_capability_in_a_rarer_status_is_read_whole_and_sorted(market: Market) -> None:
    def counts(kind: str, key: str = "", status: str | None = None) -> int:
        return 1_500 if kind == "capability" else 100  # fewer tasks in the status than of the capability

    with market.context.store.read() as tx:
        sql, args, _ = tasks_sql.statement(
            tx.tasks.conn, v.task_query("disputed", capability="research", order="budget_high"), None, "t.id", counts)
    assert any("LIST SUBQUERY" in line for line in _plan(market, sql, [*args, 21, 0]))


def _walks(plan: list[str]) -> list[str]:
    """The index walks of ``plan`` (a merged plan has one per arm)."""
    return [line for line in plan if line.startswith("SEARCH") and " USING " in line
            and not line.startswith(("SEARCH accounts", "SEARCH task_statuses", "SEARCH t USING INTEGER PRIMARY KEY"))]


@pytest.mark.parametrize("order", [TaskOrder.BUDGET_HIGH, TaskOrder.BUDGET_LOW])
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "after a cursor"])
def test_a_capability_in_a_budget_order_merges_its_statuses_budget_walks(market: Market, order: TaskOrder,
                                                                         deep: bool) -> None:
    plan = _task_plan(market, {"capability": "research"}, order, deep)
    index = "idx_task_capabilities_budget" if order is TaskOrder.BUDGET_HIGH else "idx_task_capabilities_neg_budget"
    walks = _walks(plan)
    assert plan[0] == "MERGE (UNION ALL)" and len(walks) == len(TaskStatus), plan  # _large: every status has tasks
    for walk in walks:
        assert walk.startswith("SEARCH c USING") and index in walk and "(capability=? AND status=?" in walk, plan
        if deep:
            assert "task_rowid)<(?,?)" in walk, plan  # the cursor seeks the index


@pytest.mark.parametrize("order", list(TaskOrder))
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "after a cursor"])
def test_a_capability_with_a_status_walks_only_its_rows_in_that_status(market: Market, order: TaskOrder,
                                                                       deep: bool) -> None:
    # Schema migration 24: the capability's rows carry their task's status; without it this walk
    # read every task of the capability when none was in the status.
    plan = _task_plan(market, {"status": "open", "capability": "research"}, order, deep)
    walks = _walks(plan)
    assert len(walks) == 1 and walks[0].startswith("SEARCH c USING"), plan
    assert "(capability=? AND status=?" in walks[0], plan
    if deep:
        assert re.search(r"task_rowid\)?[<>]\(?\?", walks[0]), plan  # the cursor seeks the index


@pytest.mark.parametrize("filters", [{}, {"status": "open"}])
@pytest.mark.parametrize("order", [TaskOrder.BUDGET_HIGH, TaskOrder.BUDGET_LOW])
def test_a_deep_budget_page_seeks_its_ties_by_rowid(market: Market, filters: dict[str, Any], order: TaskOrder) -> None:
    # The rowid is the implicit last column of an index, which a row value does not seek: the ties
    # of the cursor's budget are their own walk, from the cursor's rowid, merged with the rest.
    walks = _walks(_task_plan(market, filters, order, deep=True))
    assert len(walks) == 2 and "budget=? AND rowid<?)" in walks[0] and "budget<?)" in walks[1], walks


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
