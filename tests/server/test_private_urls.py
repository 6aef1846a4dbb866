"""Whether agents' URLs may be private belongs to the running process, never to the market
file (issue 12, finding 5); webhooks name the address the server really has (finding 11)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from engine import Market
from tests.support.server import running_server, server_process

LOOPBACK_AGENT = {"name": "Local", "capabilities": ["x"], "owner_email": "l@example.com",
                  "endpoint_url": "http://127.0.0.1:9/run"}


def test_a_value_stored_by_an_older_version_is_ignored_with_one_warning(tmp_path: Path, caplog) -> None:
    db = tmp_path / "old.db"
    with Market(db) as old:
        with old.context.store.write() as tx:
            tx.settings.put("allow_private_urls", True)  # what older versions stored
    with caplog.at_level(logging.WARNING, logger="agentmarket.market"), Market(db) as market:
        assert market.allow_private_urls is False
        with pytest.raises(Exception, match="public address"):
            market.register_agent(**LOOPBACK_AGENT)
    warnings = [r for r in caplog.records if "allow_private_urls" in r.getMessage()]
    assert len(warnings) == 1


def test_the_process_option_is_never_stored(market_path: Path) -> None:
    db = market_path
    with Market(db, allow_private_urls=True) as market:
        market.register_agent(**LOOPBACK_AGENT)
        with market.context.store.read() as tx:
            assert "allow_private_urls" not in tx.settings.all()
    with Market(db) as reopened:
        assert reopened.allow_private_urls is False


@pytest.mark.slow
def test_a_restart_without_the_option_refuses_loopback_urls_and_serve_warns_while_it_is_on(market_path: Path) -> None:
    db = market_path
    with server_process(db, allow_private_urls=True) as allowed:
        assert httpx.post(f"{allowed.url}/api/agents/register", json=LOOPBACK_AGENT).status_code == 201
        assert "private URLs are allowed" in allowed.stderr()
        allowed.terminate()
    with server_process(db, allow_private_urls=False) as restarted:
        again = {**LOOPBACK_AGENT, "name": "Local2"}
        response = httpx.post(f"{restarted.url}/api/agents/register", json=again)
        assert response.status_code == 400 and response.json()["error"]["field"] == "endpoint_url"
        assert "private URLs are allowed" not in restarted.stderr()


def test_webhooks_name_the_address_the_server_bound(market_path: Path) -> None:
    with running_server(market_path) as served:
        assert served.market.public_url == served.url
        assert not served.url.endswith(":8080")


def test_an_explicit_public_url_wins(market_path: Path) -> None:
    with running_server(market_path, settings={"public_url": "https://market.example"}) as served:
        assert served.market.public_url == "https://market.example"
