"""Text search (FTS5, trigram): the user's text is a literal substring in any case, of titles
and descriptions (tasks) and names and descriptions (agents); nothing in it is syntax."""

from __future__ import annotations

import pytest

from engine import Market
from engine import validation as v
from engine.storage import _sql
from engine.storage.schema import TASK_KEPT, TASK_TEXT_FIXED


def test_task_and_agent_search_treat_wildcards_literally(market: Market) -> None:
    poster = market.register_agent(name="50%_off", capabilities=["coding"], owner_email="p@example.com").agent
    market.register_agent(name="500 off", capabilities=["coding"], owner_email="q@example.com")
    market.post_task(poster.id, title="100% done", budget=1)
    market.post_task(poster.id, title="1000 done", budget=1)

    assert [t.title for t in market.list_tasks(search="0% d")] == ["100% done"]
    assert market.count_tasks(search="0_ d") == 0
    assert [a.name for a in market.list_agents(search="%_")] == ["50%_off"]


def test_search_finds_descriptions_in_any_case_and_follows_changes(market: Market) -> None:
    poster = market.register_agent(name="Poster", capabilities=["coding"], owner_email="p@example.com").agent
    market.post_task(poster.id, title="Plain title", description="Rewrite the Über-parser in Rust", budget=1)
    assert [t.title for t in market.list_tasks(search="über-PARSER")] == ["Plain title"]
    assert [a.name for a in market.list_agents(search="poster")] == ["Poster"]
    market.update_agent(poster.id, name="Renamed", description="Writes parsers")
    assert market.list_agents(search="poster") == []
    assert [a.name for a in market.list_agents(search="PARSERS")] == ["Renamed"]
    assert [a.name for a in market.list_agents(search="re")] == ["Renamed"]  # short: matched without the index


@pytest.mark.parametrize("text", ['"', 'a"b', "NEAR(a b)", "title:x", "a AND", "(((", "x*", "^y", "-z", "OR", "\\"])
def test_fts_syntax_is_taken_literally_never_an_error(market: Market, text: str) -> None:
    poster = market.register_agent(name="Poster", capabilities=["coding"], owner_email="p@example.com").agent
    market.post_task(poster.id, title=f"About {text} here", budget=1)
    page = market.tasks_page(v.task_query(search=text))
    assert [t.title for t in page.items] == [f"About {text} here"]
    assert market.agents_page(v.agent_query(search=text)).items == []


def test_a_posted_tasks_text_never_changes_and_the_task_is_never_deleted(market: Market) -> None:
    poster = market.register_agent(name="Poster", capabilities=["coding"], owner_email="p@example.com").agent
    task = market.post_task(poster.id, title="Parse logs", description="All of them", budget=1)
    for sql, refusal in (("UPDATE tasks SET title = 'Other' WHERE id = ?", TASK_TEXT_FIXED),
                         ("UPDATE tasks SET description = 'Less' WHERE id = ?", TASK_TEXT_FIXED),
                         ("DELETE FROM tasks WHERE id = ?", TASK_KEPT)):
        with pytest.raises(Exception, match=refusal.replace("'", ".")):
            with market.context.store.write() as tx:  # even by hand, outside the engine's services
                tx.tasks.conn.execute(sql, (task.id,))
    assert market.get_task(task.id) == task
    assert [t.id for t in market.list_tasks(search="parse")] == [task.id]


def _statements(market: Market) -> list[str]:
    """The SQL the market's SQLite connections run from now on."""
    ran: list[str] = []
    for conn in market.context.store._all:  # white-box: which statements a read issues
        conn.set_trace_callback(ran.append)
    return ran


@pytest.mark.sqlite_only  # PostgreSQL's repositories count every time
def test_a_search_that_reached_its_capped_total_is_not_counted_again(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    poster = market.register_agent(name="Poster", capabilities=["coding"], owner_email="p@example.com").agent
    for n in range(3):
        market.post_task(poster.id, title=f"Needle {n}", budget=1)
    monkeypatch.setattr(_sql, "SEARCH_COUNT_CAP", 2)
    first = market.tasks_page(v.task_query(search="needle", limit=1))
    ran = _statements(market)
    again = market.tasks_page(v.task_query(search="needle", limit=1))
    assert (again.total, again.total_is_lower_bound) == (first.total, first.total_is_lower_bound) == (2, True)
    assert ran and not [sql for sql in ran if "SUM(ok)" in sql]  # the page was read, the total not counted
    filtered = market.tasks_page(v.task_query("open", search="needle", limit=1))  # a filter is counted again
    assert filtered.total_is_lower_bound and [sql for sql in ran if "SUM(ok)" in sql]


@pytest.mark.sqlite_only
def test_what_a_batch_saw_before_it_rolled_back_is_not_remembered(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    poster = market.register_agent(name="Poster", capabilities=["coding"], owner_email="p@example.com").agent
    market.post_task(poster.id, title="Needle kept", budget=1)
    monkeypatch.setattr(_sql, "SEARCH_COUNT_CAP", 2)
    with pytest.raises(RuntimeError), market.batch():
        for n in range(2):
            market.post_task(poster.id, title=f"Needle {n}", budget=1)
        inside = market.tasks_page(v.task_query(search="needle", limit=1))
        assert (inside.total, inside.total_is_lower_bound) == (2, True)
        raise RuntimeError("the batch fails")
    after = market.tasks_page(v.task_query(search="needle", limit=1))
    assert ([t.title for t in after.items], after.total, after.total_is_lower_bound) == (["Needle kept"], 1, False)


@pytest.mark.sqlite_only
def test_a_first_page_that_ends_its_list_is_its_own_total(market: Market) -> None:
    poster = market.register_agent(name="Poster", capabilities=["coding"], owner_email="p@example.com").agent
    for n in range(3):
        market.post_task(poster.id, title=f"Needle {n}", budget=1)
    ran = _statements(market)
    found = market.tasks_page(v.task_query(search="needle", limit=5))
    none = market.tasks_page(v.task_query(search="haystack"))
    mine = market.tasks_page(v.task_query(poster_id=poster.id))
    assert (found.total, found.total_is_lower_bound, none.total, mine.total) == (3, False, 0, 3)
    assert not [sql for sql in ran if "SUM(ok)" in sql or "counters" in sql]  # read, never counted
    paged = market.tasks_page(v.task_query(search="needle", limit=2))
    assert (paged.total, paged.total_is_lower_bound) == (3, False) and [sql for sql in ran if "SUM(ok)" in sql]
