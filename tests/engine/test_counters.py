"""Counters behind totals and stats (SPEC §12): kept by the database with every change, checked
against a recount, and a text search's total flagged when it is only a lower bound."""

from __future__ import annotations

import pytest

from engine import validation as v
from engine.storage import _sql, tasks_sql

from .conftest import Cast, register


def _post(cast: Cast, title: str, capabilities: tuple[str, ...] = ("research",)) -> str:
    cast.market.grant(cast.poster, 10)
    return cast.market.post_task(cast.poster, title=title, budget=10, required_capabilities=list(capabilities)).id


def test_totals_follow_every_kind_of_change(cast: Cast) -> None:
    market = cast.market
    done, cancelled, released = (_post(cast, f"Task {n}") for n in range(3))
    _post(cast, "Summary", ("summarization",))
    market.accept_task(done, cast.worker)
    market.complete_task(done, cast.worker, "ok")
    market.rate_task(done, cast.poster, 5)
    market.cancel_task(cancelled, cast.poster)
    market.accept_task(released, cast.worker)
    market.release_task(released, cast.worker)
    assert market.stats().tasks == {"open": 2, "completed": 1, "cancelled": 1}
    assert market.count_tasks("open", "research") == 1
    assert market.count_tasks(capability="summarization") == 1
    assert market.count_tasks(assigned_to=cast.worker) == 1
    assert market.tasks_page(v.task_query(involving=cast.worker)).total == 1
    assert market.tasks_page(v.task_query(involving=cast.poster)).total == 4
    assert market.count_agents(capability="research") == 1
    # The registration grant, four grants and four escrows, one refund.
    assert market.ledger.transactions_page(cast.poster).total == 1 + 2 * 4 + 1
    assert market.verify_counters().ok


def test_a_counter_changed_behind_the_engine_is_reported(cast: Cast) -> None:
    _post(cast, "Task")
    with cast.market.context.store.write() as tx:
        tx.tasks.conn.execute("UPDATE counters SET n = n + 1 WHERE kind = 'tasks' AND status = 'open'")
    report = cast.market.verify_counters()
    assert not report.ok
    assert report.checks[0].offending == ({"kind": "tasks", "key": "", "status": "open", "recounted": 1, "stored": 2},)



@pytest.mark.parametrize("kind", ["tasks", "poster", "assignee", "involving", "capability", "agents",
                                  "agent_capability", "transfers", "credits", "wallet_sum", "escrow_released"])
def test_every_kind_of_counter_is_recounted(cast: Cast, kind: str) -> None:
    market = cast.market
    task = _post(cast, "Task")
    market.accept_task(task, cast.worker)
    market.complete_task(task, cast.worker, "done")
    assert market.verify_counters().ok
    with market.context.store.write() as tx:
        key, status, n = tx.tasks.conn.execute(
            "SELECT key, status, n FROM counters WHERE kind = ? AND n != 0 ORDER BY key, status LIMIT 1", (kind,)
        ).fetchone()
        tx.tasks.conn.execute("UPDATE counters SET n = n + 7 WHERE kind = ? AND key = ? AND status = ?",
                              (kind, key, status))
    assert market.verify_counters().checks[0].offending == (
        {"kind": kind, "key": key, "status": status, "recounted": n, "stored": n + 7},)


def test_a_counter_of_nothing_and_a_missing_counter_are_reported(cast: Cast) -> None:
    _post(cast, "Task")
    with cast.market.context.store.write() as tx:
        tx.tasks.conn.execute("INSERT INTO counters (kind, key, status, n) VALUES ('poster', 'nobody', 'open', 3)")
        tx.tasks.conn.execute("DELETE FROM counters WHERE kind = 'capability' AND key = 'research'")
    assert cast.market.verify_counters().checks[0].offending == (
        {"kind": "capability", "key": "research", "status": "open", "recounted": 1, "stored": 0},
        {"kind": "poster", "key": "nobody", "status": "open", "recounted": 0, "stored": 3},
    )

def test_rows_changed_in_sql_keep_their_counters(cast: Cast) -> None:
    task = _post(cast, "Task")
    with cast.market.context.store.write() as tx:  # an operator's repair, outside the engine's services
        tx.tasks.conn.execute("UPDATE tasks SET status = 'archived' WHERE id = ?", (task,))
    assert cast.market.stats().tasks == {"archived": 1}
    assert cast.market.verify_counters().ok


def test_a_search_total_past_the_cap_is_a_lower_bound(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        _post(cast, f"Needle {n}")
    exact = cast.market.tasks_page(v.task_query(search="Needle"))
    assert (exact.total, exact.total_is_lower_bound) == (3, False)
    monkeypatch.setattr(_sql, "SEARCH_COUNT_CAP", 2)
    capped = cast.market.tasks_page(v.task_query(search="Needle", limit=1))
    assert (capped.total, capped.total_is_lower_bound) == (2, True)
    whole = cast.market.tasks_page(v.task_query(search="Needle"))  # all on its first page: exact after all
    assert (whole.total, whole.total_is_lower_bound) == (3, False)


@pytest.mark.sqlite_only  # PostgreSQL's search is a condition, not an FTS5 walk: it counts passing rows to the cap
def test_a_filtered_search_total_counts_among_the_first_matches_and_never_below_its_page(
        cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    # The count scans at most the cap's matches of the text, whatever share the other filters
    # pass (its cost is the same for every filter); what the first page shows is a floor.
    tasks = [_post(cast, f"Needle {n}") for n in range(6)]
    for task in tasks[:4]:  # the oldest matches, which FTS5 hands out first, are cancelled
        cast.market.cancel_task(task, cast.poster)
    monkeypatch.setattr(_sql, "SEARCH_COUNT_CAP", 4)
    first = cast.market.tasks_page(v.task_query("open", search="Needle", limit=1))
    assert [t.id for t in first.items] == [tasks[5]]
    assert (first.total, first.total_is_lower_bound) == (2, True)  # none of the 4 scanned open; 1 shown, 1 more
    second = cast.market.tasks_page(v.task_query("open", search="Needle", limit=1, cursor=first.next_cursor))
    assert [t.id for t in second.items] == [tasks[4]] and second.total_is_lower_bound
    monkeypatch.setattr(_sql, "SEARCH_COUNT_CAP", 200)
    exact = cast.market.tasks_page(v.task_query("open", search="Needle", limit=1))
    assert (exact.total, exact.total_is_lower_bound) == (2, False)


@pytest.mark.sqlite_only
def test_a_search_total_streams_from_the_fts_index_to_its_cap(cast: Cast) -> None:
    """The matches are counted as FTS5 hands them out, stopping at the cap: never read whole first."""
    market = cast.market
    with market.context.store.read() as tx:
        rows, args, cap = tasks_sql.counted_rows(tx.tasks.conn, v.task_query(search="needle", status="open"))
        plan = [r[3] for r in tx.tasks.conn.execute(f"EXPLAIN QUERY PLAN {rows} LIMIT {cap}", args)]
    assert plan[0].startswith("SCAN tasks_fts VIRTUAL TABLE") and not any("LIST SUBQUERY" in p for p in plan), plan



def test_the_wallet_figures_are_counters_kept_by_the_transfers(cast: Cast) -> None:
    task = _post(cast, "Paid")
    cast.market.accept_task(task, cast.worker)
    cast.market.complete_task(task, cast.worker, "done")
    with cast.market.context.store.read() as tx:
        moved = dict(tx.tasks.conn.execute(
            "SELECT status, n FROM counters WHERE kind = 'wallet_sum' AND key = ?", (cast.worker,)).fetchall())
    assert moved["payout"] == cast.market.wallet(cast.worker).earned > 0
    assert cast.market.verify_counters().ok


def _deliveries(cast: Cast, agent_id: str) -> list[str]:
    return [d.event for d in cast.market.webhook_deliveries(agent_id, limit=100)]


def test_the_webhook_counter_follows_every_way_a_url_comes_and_goes(cast: Cast) -> None:
    market = cast.market

    def webhooks() -> int:
        with market.context.store.read() as tx:
            return tx.counters.get("webhooks")

    assert webhooks() == 0
    _post(cast, "Nobody hears of this")
    hooked = register(market, "Hooked", ("research",), webhook_url="https://hooks.example.com/a")
    assert webhooks() == 1
    market.set_webhook(cast.worker, "https://hooks.example.com/w")
    market.set_webhook(cast.worker, "https://hooks.example.com/w2")  # a new URL is still one webhook
    assert webhooks() == 2
    _post(cast, "Heard of")
    assert _deliveries(cast, hooked) == ["task.posted"] and _deliveries(cast, cast.worker) == ["task.posted"]
    market.set_webhook(cast.worker, None)
    with market.context.store.write() as tx:  # the delivery worker turning a failing webhook off
        assert tx.agents.turn_webhook_off(hooked, "https://hooks.example.com/a")
    assert webhooks() == 0
    _post(cast, "Nobody hears of this either")
    assert len(_deliveries(cast, hooked)) == 1 and len(_deliveries(cast, cast.worker)) == 1
    assert market.verify_counters().ok
    market.set_webhook(hooked, "https://hooks.example.com/b")
    assert webhooks() == 1
    with market.context.store.write() as tx:  # an agent removed behind the engine's back takes its webhook along
        tx.conn.execute("DELETE FROM agent_capabilities WHERE agent_id = ?", (hooked,))
        tx.conn.execute("DELETE FROM agents WHERE id = ?", (hooked,))
    assert webhooks() == 0
