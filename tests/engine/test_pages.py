"""Queries and pages as values: one page and its total from one snapshot, the ``involving``
filter, and the list vocabulary (statuses, orders) as the one source of the API's enums."""

from __future__ import annotations

import pytest

from engine import Market, TaskStatus
from engine import validation as v
from engine.errors import ValidationError
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
