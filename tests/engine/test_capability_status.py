"""A task's capability rows carry its status (schema migration 24, PostgreSQL's 16), kept in
step by the status change's trigger through every transition, so a capability list with a
status reads exactly that capability's tasks in that status, in every order."""

from __future__ import annotations

from datetime import timedelta

from engine import Market
from engine import validation as v
from engine.queries import TaskOrder
from engine.states import OPERATOR, TaskStatus

from .conftest import Cast
from .test_timers import START, Timed, at, timed  # noqa: F401 (the fixture)

RESEARCH = ["research"]


def _out_of_step(market: Market) -> list[tuple[str, str]]:
    """(task id, status carried) of every capability row whose status is not its task's."""
    with market.context.store.read() as tx:
        return [tuple(r) for r in tx.tasks.conn.execute(
            "SELECT t.id, s.name FROM task_capabilities c JOIN tasks t ON t.rowid = c.task_rowid"
            " LEFT JOIN task_statuses s ON s.code = c.status WHERE s.name IS NULL OR s.name != t.status")]


def _every_status(timed: Timed) -> dict[str, list[str]]:
    """Tasks of capability research in every status a market's own flows reach, by status."""
    m, post = timed.market, timed.post
    expiring = post(budget=15, required_capabilities=RESEARCH, deadline=at(START + timedelta(minutes=1)))
    lapsing = post(budget=16, required_capabilities=RESEARCH, claim_seconds=60)
    m.accept_task(lapsing, timed.worker)
    timed.clock.advance(minutes=2)
    m.sweep()  # expiring expires; lapsing's claim lapses: open again
    cancelled = post(budget=17, required_capabilities=RESEARCH)
    m.cancel_task(cancelled, timed.poster)
    released = post(budget=18, required_capabilities=RESEARCH)
    m.accept_task(released, timed.worker)
    m.release_task(released, timed.worker)
    assigned = post(budget=19, required_capabilities=RESEARCH)
    m.accept_task(assigned, timed.worker)
    submitted = timed.submitted(budget=21, required_capabilities=RESEARCH)
    disputed = timed.submitted(budget=22, required_capabilities=RESEARCH)
    m.reject_task(disputed, timed.poster, "Not what I asked for")
    refunded = timed.submitted(budget=23, required_capabilities=RESEARCH)
    m.reject_task(refunded, timed.poster, "No")
    m.resolve_task(refunded, OPERATOR, 0)
    split = timed.submitted(budget=24, required_capabilities=RESEARCH)
    m.reject_task(split, timed.poster, "Half of it")
    m.resolve_task(split, timed.judge, 50)
    approved = timed.submitted(budget=25, required_capabilities=RESEARCH)
    m.approve_task(approved, timed.poster)
    completed = post(budget=26, required_capabilities=RESEARCH)
    m.accept_task(completed, timed.worker)
    m.complete_task(completed, timed.worker, "done")
    post(budget=27, required_capabilities=["writing"])  # another capability, open
    return {
        "open": [released, lapsing], "assigned": [assigned], "submitted": [submitted], "disputed": [disputed],
        "completed": [completed, approved, split], "cancelled": [cancelled], "expired": [expiring],
        "refunded": [refunded],
    }


def test_a_capability_row_follows_its_task_through_every_transition(timed: Timed) -> None:
    by_status = _every_status(timed)
    m = timed.market
    assert _out_of_step(m) == []
    assert m.verify_counters().ok
    for status in TaskStatus:
        expected = by_status.get(status.value, [])
        for order in TaskOrder:
            listed = [t.id for t in m.list_tasks(status.value, "research", limit=100, order=order.value)]
            assert sorted(listed) == sorted(expected), (status, order)
        assert m.count_tasks(status.value, "research") == len(expected)


def test_a_capability_alone_in_a_budget_order_merges_its_statuses_in_order_across_pages(timed: Timed) -> None:
    by_status = _every_status(timed)
    m = timed.market
    every = {task_id for ids in by_status.values() for task_id in ids}
    for order, descending in (("budget_high", True), ("budget_low", False)):
        seen, cursor = [], None
        while True:  # pages of 2 by cursor: each page's merge of the statuses' walks starts at the cursor
            page = m.tasks_page(v.task_query(capability="research", order=order, limit=2, cursor=cursor))
            seen += [(t.budget, t.id) for t in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert {task_id for _, task_id in seen} == every and len(seen) == len(every)
        assert [b for b, _ in seen] == sorted((b for b, _ in seen), reverse=descending)



def test_a_status_new_to_the_market_gets_a_code_and_its_tasks_stay_listed(cast: Cast) -> None:
    m = cast.market
    m.grant(cast.poster, 100)
    kept, archived = (m.post_task(cast.poster, title="T", budget=b, required_capabilities=RESEARCH).id for b in (10, 30))
    with m.context.store.write() as tx:  # an operator's repair in SQL, outside the engine's statuses
        tx.tasks.conn.execute("UPDATE tasks SET status = 'archived' WHERE id = ?", (archived,))
    assert _out_of_step(m) == []
    # No status of its own to merge in a budget order: the capability's tasks are probed, none missed.
    assert [t.id for t in m.list_tasks(capability="research", order="budget_high")] == [archived, kept]
    assert [t.id for t in m.list_tasks(capability="research", order="budget_low")] == [kept, archived]
