"""Text search takes the user's text literally: % and _ are not wildcards."""

from __future__ import annotations

from engine import Market


def test_task_and_agent_search_treat_wildcards_literally(market: Market) -> None:
    poster = market.register_agent(name="50%_off", capabilities=["coding"], owner_email="p@example.com").agent
    market.register_agent(name="500 off", capabilities=["coding"], owner_email="q@example.com")
    market.post_task(poster.id, title="100% done", budget=1)
    market.post_task(poster.id, title="1000 done", budget=1)

    assert [t.title for t in market.list_tasks(search="0% d")] == ["100% done"]
    assert market.count_tasks(search="0_ d") == 0
    assert [a.name for a in market.list_agents(search="%_")] == ["50%_off"]
