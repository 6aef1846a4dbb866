"""Queries and pages as values: one page and its total from one snapshot, the ``involving``
filter, and the list vocabulary (statuses, orders) as the one source of the API's enums."""

from __future__ import annotations

import base64

import pytest

from engine import Market, TaskStatus
from engine import validation as v
from engine.errors import InvalidCursor, ValidationError
from engine.queries import AgentOrder, AgentQuery, Page, TaskOrder, TaskQuery
from engine.server import openapi_document

from .conftest import Cast, register


def test_a_task_page_holds_its_items_and_the_total(cast: Cast) -> None:
    market = cast.market
    ids = [market.post_task(cast.poster, title=f"T{n}", budget=1).id for n in range(5)]
    page = market.tasks_page(TaskQuery(order=TaskOrder.OLDEST, limit=2, offset=1))
    assert page == Page([market.get_task(i) for i in ids[1:3]], 5, 2, 1, next_cursor=page.next_cursor)
    assert page.next_cursor is not None
    assert market.count_tasks() == page.total


def test_involving_selects_tasks_posted_by_or_assigned_to_an_agent(cast: Cast) -> None:
    market = cast.market
    other = register(market, "Other", ("writing",))
    mine = market.post_task(cast.worker, title="Posted by the worker", budget=1)
    taken = market.post_task(cast.poster, title="Taken by the worker", budget=1)
    market.accept_task(taken.id, cast.worker)
    market.post_task(other, title="Not the worker's", budget=1)
    page = market.tasks_page(v.task_query(involving=cast.worker, order="oldest"))
    assert [t.id for t in page.items] == [mine.id, taken.id]
    assert page.total == 2
    assert market.tasks_page(TaskQuery(involving=cast.worker, status=TaskStatus.ASSIGNED)).total == 1


def test_an_agent_page_counts_what_its_filter_selects(market: Market) -> None:
    for name in ("Ann", "Bob", "Cid"):
        register(market, name, ("writing",) if name != "Bob" else ("research",))
    page = market.agents_page(AgentQuery(capability="writing", order=AgentOrder.NAME, limit=1))
    assert [a.name for a in page.items] == ["Ann"]
    assert page.total == 2


@pytest.mark.parametrize(("make", "field"), [
    (lambda: v.task_query(status="done"), "status"),
    (lambda: v.task_query(order="cheapest"), "order"),
    (lambda: v.agent_query(order="oldest"), "order"),
    (lambda: v.task_query(limit=0, status="done"), "limit"),
])
def test_bad_list_parameters_name_their_field(make: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make()  # type: ignore[operator]
    assert caught.value.field == field


def test_the_api_enums_are_the_engine_enums() -> None:
    params = {(path, p["name"]): p["schema"].get("enum")
              for path, ops in openapi_document()["paths"].items()
              for op in ops.values() for p in op.get("parameters", ())}
    assert params[("/api/tasks", "status")] == [s.value for s in TaskStatus]
    assert params[("/api/tasks", "order")] == [o.value for o in TaskOrder]
    assert params[("/api/agents", "order")] == [o.value for o in AgentOrder]


def _walk(fetch: object, **params: object) -> list[object]:
    """Every item of a list, page by page, following next_cursor."""
    items, cursor = [], None
    while True:
        page = fetch(cursor=cursor, **params)  # type: ignore[operator]
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


@pytest.fixture
def busy(cast: Cast) -> Cast:
    market = cast.market
    market.grant(cast.poster, 1000)
    for n in range(9):
        task = market.post_task(cast.poster, title=f"Task T{n}", budget=n % 4 + 1,
                                required_capabilities=["research"] if n % 2 else [])
        if n % 3 == 0:
            market.accept_task(task.id, cast.worker)
    for name, price in (("Ann", 3), ("Bob", 3), ("Cid", 1)):
        register(market, name, ("research",), price_per_task=price)
    return cast


@pytest.mark.parametrize("order", list(TaskOrder))
@pytest.mark.parametrize("filters", [{}, {"status": "open"}, {"capability": "research"}, {"search": "T"},
                                     {"search": "task t"}, {"search": "task t", "capability": "research"},
                                     {"involving": "worker"}, {"involving": "worker", "status": "assigned"},
                                     {"status": "assigned", "capability": "research"}])
def test_cursor_pages_walk_the_same_tasks_as_one_big_page(busy: Cast, order: TaskOrder, filters: dict) -> None:
    if filters.get("involving"):
        filters = {**filters, "involving": busy.worker}
    market = busy.market
    everything = market.tasks_page(v.task_query(limit=100, order=order, **filters)).items
    walked = _walk(lambda cursor: market.tasks_page(v.task_query(limit=2, order=order, cursor=cursor, **filters)))
    assert walked == everything
    posted = {t.id: n for n, t in enumerate(market.tasks_page(v.task_query(limit=100, order="oldest")).items)}
    if order is not TaskOrder.RELEVANCE or not filters.get("search", "").strip()[2:]:
        assert everything == sorted(everything, key=lambda t: _ORDERS[order](t, posted[t.id]))
    offset = [t for n in range(0, len(everything), 2)
              for t in market.tasks_page(v.task_query(limit=2, offset=n, order=order, **filters)).items]
    assert offset == everything


# Each order spelled out, given a task and its place in posting order.
_ORDERS = {
    TaskOrder.NEWEST: lambda t, n: -n,
    TaskOrder.OLDEST: lambda t, n: n,
    TaskOrder.BUDGET_HIGH: lambda t, n: (-t.budget, -n),
    TaskOrder.BUDGET_LOW: lambda t, n: (t.budget, -n),
    TaskOrder.RELEVANCE: lambda t, n: -n,  # without a search of 3 characters or more: newest
}


def test_relevance_puts_the_best_match_first(cast: Cast, store: str) -> None:
    market = cast.market
    market.grant(cast.poster, 100)
    for title, description in (("A parser", "of nothing much"), ("Parser", "a parser that writes a parser"),
                               ("A report", "no match here"), ("Another parser", "")):
        market.post_task(cast.poster, title=title, description=description, budget=1)
    ranked = market.tasks_page(v.task_query(search="parser", order="relevance", limit=10)).items
    if store == "postgres":  # no bm25 there (storage/postgres/repositories.py: PgTasks): newest first
        assert [t.title for t in ranked] == ["Another parser", "Parser", "A parser"]
    else:
        assert [t.title for t in ranked][0] == "Parser"  # the most mentions in the shortest text
    assert {t.title for t in ranked} == {"A parser", "Parser", "Another parser"}
    walked = _walk(lambda cursor: market.tasks_page(v.task_query(search="parser", order="relevance", limit=1,
                                                                 cursor=cursor)))
    assert walked == ranked


def test_involving_walks_every_task_posted_or_assigned(busy: Cast) -> None:
    market = busy.market
    mine = {t.id for t in market.tasks_page(v.task_query(limit=100, poster_id=busy.worker)).items}
    mine |= {t.id for t in market.tasks_page(v.task_query(limit=100, assigned_to=busy.worker)).items}
    walked = _walk(lambda cursor: market.tasks_page(v.task_query(limit=1, involving=busy.worker, cursor=cursor)))
    newest = [t.id for t in market.tasks_page(v.task_query(limit=100)).items]
    assert [t.id for t in walked] == [i for i in newest if i in mine]


@pytest.mark.parametrize("order", list(AgentOrder))
def test_cursor_pages_walk_the_same_agents_as_one_big_page(busy: Cast, order: AgentOrder) -> None:
    market = busy.market
    market.rate_task(_completed(busy), busy.poster, 4)
    for capability in (None, "research"):
        everything = market.agents_page(v.agent_query(capability, 100, order=order)).items
        walked = _walk(lambda cursor: market.agents_page(v.agent_query(capability, 2, order=order, cursor=cursor)))
        assert walked == everything


def _completed(cast: Cast) -> str:
    task = cast.market.post_task(cast.poster, title="Done", budget=1)
    cast.market.accept_task(task.id, cast.worker)
    cast.market.complete_task(task.id, cast.worker, "ok")
    return task.id


def test_a_wallet_history_walks_by_cursor(busy: Cast) -> None:
    ledger = busy.market.ledger
    walked = _walk(lambda cursor: ledger.transactions_page(busy.poster, 3, cursor=cursor))
    assert walked == ledger.transactions_page(busy.poster, 100).items


def test_a_garbled_forged_or_foreign_cursor_is_refused(busy: Cast) -> None:
    market = busy.market
    cursor = market.tasks_page(v.task_query(limit=2, status="open")).next_cursor
    assert cursor is not None
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    forged = base64.urlsafe_b64encode(b"[1]" + bytes(16)).decode()
    for bad in (flipped, forged, "!!!", "x" * 600, cursor + "A"):
        with pytest.raises(InvalidCursor):
            market.tasks_page(v.task_query(limit=2, status="open", cursor=bad))
    for other in (v.task_query(limit=2, status="assigned", cursor=cursor),
                  v.task_query(limit=2, status="open", order="oldest", cursor=cursor),
                  v.task_query(limit=2, involving=busy.worker, cursor=cursor)):
        with pytest.raises(InvalidCursor):
            market.tasks_page(other)
    with pytest.raises(InvalidCursor):
        market.agents_page(v.agent_query(limit=2, cursor=cursor))
    history = market.ledger.transactions_page(busy.poster, 1).next_cursor
    with pytest.raises(InvalidCursor):  # one agent's cursor never pages another's wallet
        market.ledger.transactions_page(busy.worker, 1, cursor=history)
    assert market.tasks_page(v.task_query(limit=2, status="open", cursor=cursor)).items  # the real one still works
