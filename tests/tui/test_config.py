"""Remembered agents: per market, most recent last, private to the user, resumed on start."""

from __future__ import annotations

import stat
from pathlib import Path

from agentmarket_tui.client import local_client
from agentmarket_tui.config import KeyStore, RememberedAgent, config_path, resume_last_agent
from engine import Market


def test_the_file_lives_in_the_config_dir_and_only_its_owner_reads_it(config_dir: Path) -> None:
    KeyStore().remember("/markets/a.db", RememberedAgent("ann", "id-ann", "am_secret"))
    assert config_path().parent == config_dir
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600


def test_agents_are_kept_per_market_and_the_latest_used_comes_last() -> None:
    keys = KeyStore()
    ann, bob = RememberedAgent("ann", "id-ann", "k1"), RememberedAgent("bob", "id-bob", "k2")
    keys.remember("a", ann)
    keys.remember("a", bob)
    keys.remember("a", ann)
    keys.remember("b", bob)
    assert keys.agents("a") == [bob, ann]
    assert keys.last_used("a") == ann
    assert keys.agents("b") == [bob]
    assert keys.last_used("elsewhere") is None


def test_a_broken_file_reads_as_no_agents(config_dir: Path) -> None:
    config_dir.mkdir()
    config_path().write_text("{not json")
    assert KeyStore().agents("a") == []


def test_start_resumes_the_last_agent_and_ignores_a_revoked_key(market: Market) -> None:
    registration = market.register_agent(name="ann", capabilities=["writing"], owner_email="ann@example.com",
                                         price_per_task=1)
    client = local_client(market)
    KeyStore().remember(market.path, RememberedAgent("ann", registration.agent.id, registration.api_key))
    resume_last_agent(client)
    assert client.me().name == "ann"

    stale = local_client(market)
    KeyStore().remember(market.path, RememberedAgent("gone", "id-gone", "am_not_a_key"))
    resume_last_agent(stale)
    assert stale.api_key is None
