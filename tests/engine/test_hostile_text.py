"""Text that could rewrite a terminal or pass for another agent's name (issue 12, finding 7),
and lists whose validation must not cost more than their bounds allow (finding 4)."""

from __future__ import annotations

from typing import Any

import pytest

from engine import Market
from engine.validation import TASK, strip_control_characters

from .conftest import Cast, assert_refused, register

AGENT = {"name": "Bot", "capabilities": ["research"], "owner_email": "me@example.com"}

TERMINAL_TRICKS = {
    "CSI (8-bit)": "\x9b2J",
    "C1 NEL": "a\x85b",
    "C1 OSC": "\x9d0;title\x9c",
    "bidi LRE": "a\u202ab",
    "bidi RLO": "invoice\u202etxt.exe",
    "bidi LRI": "a\u2066b",
    "bidi PDI": "a\u2069b",
}


@pytest.mark.parametrize("text", TERMINAL_TRICKS.values(), ids=TERMINAL_TRICKS.keys())
@pytest.mark.parametrize("field", ["name", "description"])
def test_c1_controls_and_bidi_overrides_are_refused_in_agent_text(market: Market, field: str, text: str) -> None:
    assert_refused(market, lambda: market.register_agent(**{**AGENT, field: text}), "validation_error", 400, field)


@pytest.mark.parametrize("text", TERMINAL_TRICKS.values(), ids=TERMINAL_TRICKS.keys())
@pytest.mark.parametrize("field", ["title", "description"])
def test_c1_controls_and_bidi_overrides_are_refused_in_tasks(cast: Cast, field: str, text: str) -> None:
    fields = {"title": "Summarize", "budget": 5, field: text}
    assert_refused(cast.market, lambda: cast.market.post_task(cast.poster, **fields), "validation_error", 400, field)


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e"])
def test_zero_width_characters_are_refused_in_names(market: Market, invisible: str) -> None:
    assert_refused(market, lambda: market.register_agent(**{**AGENT, "name": f"B{invisible}ot"}),
                   "validation_error", 400, "name")


def test_zero_width_joiners_stay_allowed_in_descriptions(market: Market) -> None:
    """Emoji sequences use U+200D; outside names it hides nothing."""
    assert market.register_agent(**{**AGENT, "description": "team \U0001F469\u200d\U0001F4BB"}).agent.description


@pytest.mark.parametrize("look_alike", [
    "ＢＯＴ",  # full-width (NFKC)
    "\U0001d401\U0001d428\U0001d42d",  # mathematical bold (NFKC)
    "B\u043et",  # Cyrillic o
    "\u0392\u03bft",  # Greek capital beta, small omicron
    "B0t",  # digit zero
])
def test_names_that_look_the_same_are_taken(market: Market, look_alike: str) -> None:
    market.register_agent(**AGENT)
    assert_refused(market, lambda: market.register_agent(**{**AGENT, "name": look_alike}), "name_taken", 409, "name")


def test_renaming_onto_a_look_alike_is_refused(market: Market) -> None:
    register(market, "PayPal")
    other = register(market, "Other")
    assert_refused(market, lambda: market.update_agent(other, name="\u0420ay\u0420a\u04cf"), "name_taken", 409, "name")


def test_names_that_only_share_letters_are_not_taken(market: Market) -> None:
    market.register_agent(**AGENT)
    assert market.register_agent(**{**AGENT, "name": "Bat"}).agent.name == "Bat"
    assert market.register_agent(**{**AGENT, "name": "Bøt"}).agent.name == "Bøt"


def test_results_lose_terminal_controls_before_they_are_stored() -> None:
    assert strip_control_characters("ok\x9b2J\u202eevil\x07\n") == "ok2Jevil\n"


@pytest.mark.parametrize("items", [
    [f"c{i}" for i in range(60_000)],  # the attack: 60,000 distinct capabilities
    ["research"] * 21,  # more entries than allowed, even if they fold to one
])
def test_list_bounds_are_checked_before_the_items(market: Market, items: list[str]) -> None:
    error = assert_refused(market, lambda: market.register_agent(**{**AGENT, "capabilities": items}),
                           "validation_error", 400, "capabilities")
    assert "at most 20 entries" in error.message


@pytest.mark.parametrize("value", ["research\n", "research\n\n"])
def test_a_slug_with_a_trailing_newline_is_refused(value: Any) -> None:
    with pytest.raises(Exception, match="lowercase slugs"):
        TASK.field("required_capabilities").clean([value])


def test_an_older_market_gets_look_alike_name_keys_and_keeps_both_of_a_look_alike_pair(tmp_path) -> None:
    import sqlite3

    from sqlite_utils import Database

    from engine.storage.schema import MIGRATIONS, _m008_name_keys_fold_look_alikes

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = Database(conn)
    before = MIGRATIONS[:MIGRATIONS.index(_m008_name_keys_fold_look_alikes)]  # names keyed by case alone
    for version, migration in enumerate(before, start=1):
        migration(db)
        conn.execute(f"PRAGMA user_version = {version}")
    for agent_id, name in (("a1", "Agent1"), ("a2", "Agentl"), ("a3", "Bot")):
        conn.execute("INSERT INTO agents (id, name, name_key, capabilities, owner_email, api_key_hash, created_at)"
                     " VALUES (?, ?, ?, '[\"x\"]', 'o@example.com', ?, '2026-01-01T00:00:00Z')",
                     (agent_id, name, name.casefold(), f"hash-{agent_id}"))
        conn.execute("INSERT INTO accounts (id, kind, owner_id, balance) VALUES (?, 'wallet', ?, 0)",
                     (f"wallet:{agent_id}", agent_id))
    conn.close()

    with Market(path) as market:
        assert {a.name for a in market.list_agents(limit=10)} == {"Agent1", "Agentl", "Bot"}
        for taken in ("Agent1", "AGENTI", "B0t"):
            assert_refused(market, lambda: market.register_agent(**{**AGENT, "name": taken}), "name_taken", 409,
                           "name")
