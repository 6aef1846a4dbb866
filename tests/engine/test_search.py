"""Text search (FTS5, trigram): the user's text is a literal substring in any case, of titles
and descriptions (tasks) and names and descriptions (agents); nothing in it is syntax."""

from __future__ import annotations

import pytest

from engine import Market
from engine import validation as v


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
