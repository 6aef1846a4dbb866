"""Every input bound of SPEC §5 on both sides: the last valid value passes, the first
invalid one is a 400 naming the field, and nothing is stored or moved."""

from __future__ import annotations

from typing import Any

import pytest

from engine import Market

from .conftest import Cast, assert_refused, register

SLUG_40 = "a" + "b" * 39
TWENTY = [f"c{i}" for i in range(20)]

AGENT_DEFAULTS: dict[str, Any] = {"name": "Bot", "capabilities": ["research"], "owner_email": "me@example.com"}

# (field, value, valid?)
AGENT_CASES = [
    ("name", "x", True), ("name", "n" * 100, True), ("name", "", False), ("name", "   ", False),
    ("name", "n" * 101, False), ("name", 7, False), ("name", None, False), ("name", "two\nlines", False),
    ("description", "", True), ("description", "d" * 2_000, True), ("description", "d" * 2_001, False),
    ("description", ["d"], False),
    ("capabilities", ["a"], True), ("capabilities", TWENTY, True), ("capabilities", [SLUG_40], True),
    ("capabilities", ["0a_b-c"], True), ("capabilities", [], False), ("capabilities", [*TWENTY, "c20"], False),
    ("capabilities", [SLUG_40 + "c"], False), ("capabilities", ["Research"], False),
    ("capabilities", ["-research"], False), ("capabilities", ["re search"], False), ("capabilities", "research", False),
    ("capabilities", [1], False),
    ("price_per_task", 0, True), ("price_per_task", 1_000_000, True), ("price_per_task", -1, False),
    ("price_per_task", 1_000_001, False), ("price_per_task", 1.0, False), ("price_per_task", "5", False),
    ("price_per_task", True, False),
    ("owner_email", "a@b.co", True), ("owner_email", "ab.co", False), ("owner_email", "a@b", False),
    ("owner_email", "a b@c.co", False), ("owner_email", "", False), ("owner_email", None, False),
    ("endpoint_url", "http://agent.example.com/run", True), ("endpoint_url", "https://agent.example.com", True),
    ("endpoint_url", None, True), ("endpoint_url", "ftp://agent.example.com", False),
    ("endpoint_url", "agent.example.com", False), ("endpoint_url", "http://", False),
    ("system_prompt", "p" * 20_000, True), ("system_prompt", None, True), ("system_prompt", "p" * 20_001, False),
    ("webhook_url", "https://hooks.example.com/in", True), ("webhook_url", None, True),
    ("webhook_url", "http://hooks.example.com/in", False), ("webhook_url", "wss://hooks.example.com", False),
]


@pytest.mark.parametrize(("field", "value", "valid"), AGENT_CASES)
def test_agent_registration_bounds(market: Market, field: str, value: Any, valid: bool) -> None:
    fields = {**AGENT_DEFAULTS, field: value}
    if valid:
        assert market.register_agent(**fields).balance == 100
    else:
        assert_refused(market, lambda: market.register_agent(**fields), "validation_error", 400, field)


def test_owner_email_is_required(market: Market) -> None:
    fields = {k: v for k, v in AGENT_DEFAULTS.items() if k != "owner_email"}
    assert_refused(market, lambda: market.register_agent(**fields, owner_email=None),
                   "validation_error", 400, "owner_email")


@pytest.mark.parametrize("taken", ["Bot", "bot", "BOT", " bOt "])
def test_names_are_unique_regardless_of_case(market: Market, taken: str) -> None:
    market.register_agent(**AGENT_DEFAULTS)
    assert_refused(market, lambda: market.register_agent(**{**AGENT_DEFAULTS, "name": taken}), "name_taken", 409, "name")


def test_renaming_onto_a_taken_name_is_refused(market: Market) -> None:
    register(market, "Alpha")
    beta = register(market, "Beta")
    assert_refused(market, lambda: market.update_agent(beta, name="ALPHA"), "name_taken", 409, "name")
    assert market.update_agent(beta, name="BETA").name == "BETA"  # its own name in another case is fine


@pytest.mark.parametrize(("field", "value", "valid"), [c for c in AGENT_CASES if c[0] != "webhook_url"])
def test_agent_update_bounds(market: Market, field: str, value: Any, valid: bool) -> None:
    agent_id = register(market, "Bot")
    if valid:
        market.update_agent(agent_id, **{field: value})
    else:
        assert_refused(market, lambda: market.update_agent(agent_id, **{field: value}), "validation_error", 400, field)


TASK_CASES = [
    ("title", "t", True), ("title", "t" * 200, True), ("title", "", False), ("title", "  ", False),
    ("title", "t" * 201, False), ("title", None, False), ("title", 5, False),
    ("description", "", True), ("description", "d" * 100_000, True), ("description", "d" * 100_001, False),
    ("budget", 1, True), ("budget", 1_000_000, True), ("budget", 0, False), ("budget", -5, False),
    ("budget", 1_000_001, False), ("budget", 10.0, False), ("budget", 10.5, False), ("budget", "10", False),
    ("budget", True, False), ("budget", None, False),
    ("required_capabilities", [], True), ("required_capabilities", TWENTY, True),
    ("required_capabilities", [*TWENTY, "c20"], False), ("required_capabilities", ["Bad!"], False),
    ("required_capabilities", "research", False),
]


@pytest.mark.parametrize(("field", "value", "valid"), TASK_CASES)
def test_task_bounds(cast: Cast, field: str, value: Any, valid: bool) -> None:
    market = cast.market
    market.grant(cast.poster, 1_000_000)
    fields = {"title": "Summarize", "budget": 10, field: value}
    if valid:
        task = market.post_task(cast.poster, **fields)
        assert market.get_task(task.id) == task
    else:
        assert_refused(market, lambda: market.post_task(cast.poster, **fields), "validation_error", 400, field)


@pytest.mark.parametrize(("result", "valid"), [("r", True), ("r" * 200_000, True), ("", False),
                                                ("r" * 200_001, False), (None, False), (["r"], False)])
def test_result_bounds(cast: Cast, result: Any, valid: bool) -> None:
    task_id = cast.market.post_task(cast.poster, title="t", budget=10).id
    cast.market.accept_task(task_id, cast.worker)
    if valid:
        assert cast.market.complete_task(task_id, cast.worker, result).result == result
    else:
        assert_refused(cast.market, lambda: cast.market.complete_task(task_id, cast.worker, result),
                       "validation_error", 400, "result")


@pytest.mark.parametrize(("rating", "valid"), [(1, True), (5, True), (0, False), (6, False), (4.0, False),
                                                ("5", False), (True, False), (None, False)])
def test_rating_bounds(cast: Cast, rating: Any, valid: bool) -> None:
    task_id = cast.market.post_task(cast.poster, title="t", budget=10).id
    cast.market.accept_task(task_id, cast.worker)
    cast.market.complete_task(task_id, cast.worker, "done")
    if valid:
        assert cast.market.rate_task(task_id, cast.poster, rating).rating == rating
    else:
        assert_refused(cast.market, lambda: cast.market.rate_task(task_id, cast.poster, rating),
                       "validation_error", 400, "rating")


@pytest.mark.parametrize(("limit", "offset", "bad"), [(1, 0, None), (100, 0, None), ("100", "3", None),
                                                       (0, 0, "limit"), (101, 0, "limit"), (2.0, 0, "limit"),
                                                       ("ten", 0, "limit"), (20, -1, "offset"), (20, "x", "offset")])
def test_paging_bounds(cast: Cast, limit: Any, offset: Any, bad: str | None) -> None:
    market = cast.market
    listings = (lambda: market.list_tasks(limit=limit, offset=offset),
                lambda: market.list_agents(limit=limit, offset=offset),
                lambda: market.transactions(cast.poster, limit=limit, offset=offset))
    for listing in listings:
        if bad is None:
            listing()
        else:
            assert_refused(market, listing, "validation_error", 400, bad)


def test_lists_are_newest_first_and_paged(cast: Cast) -> None:
    ids = [cast.market.post_task(cast.poster, title=f"t{n}", budget=1).id for n in range(5)]
    assert [t.id for t in cast.market.list_tasks(limit=2, offset=1)] == ids[::-1][1:3]


def test_a_search_drops_control_characters_it_could_never_match() -> None:
    # q = "\x14\x8b\xf6K\x00" once reached FTS5 and answered 503 (found by the OpenAPI fuzzer)
    from engine.validation import search_text

    assert search_text("\x14\x8böK\x00") == "öK"
    assert search_text("\x00\x1b") is None
    assert search_text(None) is None
