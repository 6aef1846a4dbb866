"""The contract suite's two ways to reach a market: a real server on a loopback socket, and in-process.

Each test builds the same deterministic market twice (fixed clock, sequential ids and
tokens), runs the same scenario through :class:`MarketClient` over each transport, and
compares what came back; then checks the expected values once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentmarket_tui.client import IN_PROCESS_URL, MarketClient, local_client
from engine import Market
from tests.conftest import sequential_ids, sequential_tokens
from tests.outbound.servers import LoopbackServer, Received, Reply
from tests.support.server import running_server

#: Builds a client acting as the agent with this key (None: nobody); closed by the fixture.
Connect = Callable[[str | None], MarketClient]
#: Opens the clients of one transport on a market.
Transport = Callable[[Market], AbstractContextManager[Connect]]

TRANSPORTS = ("socket", "in_process")


def deterministic_market(path: Path, **settings: Any) -> Market:
    """A market whose clock, ids and tokens are the same on every run, on loopback-friendly settings."""
    moment = datetime(2026, 3, 13, 12, 0, 0, tzinfo=UTC)
    market = Market(path, clock=lambda: moment, new_id=sequential_ids(), new_token=sequential_tokens())
    market.allow_private_urls = True  # the process's choice, never stored
    if settings:
        market.configure(**settings)
    return market


@contextmanager
def _clients(make: Connect) -> Iterator[Connect]:
    """A Connect that builds clients with ``make`` and closes them all afterwards."""
    clients: list[MarketClient] = []

    def connect(api_key: str | None) -> MarketClient:
        clients.append(make(api_key))
        return clients[-1]

    try:
        yield connect
    finally:
        for client in clients:
            client.close()


@contextmanager
def socket_clients(market: Market) -> Iterator[Connect]:
    """Clients of a real AgentMarket server on 127.0.0.1 (no delivery worker: deliveries stay as queued)."""
    with (running_server(Path(market.path), market=market, deliver_webhooks=False) as server,
          _clients(lambda api_key: MarketClient(server.url, api_key)) as connect):
        yield connect


@contextmanager
def in_process_clients(market: Market) -> Iterator[Connect]:
    """Clients sharing one in-process dispatcher (built by ``local_client``), as socket clients share a server."""
    base = local_client(market)
    try:
        with _clients(lambda api_key: MarketClient(IN_PROCESS_URL, api_key, transport=base.transport,
                                                   location=base.location)) as connect:
            yield connect
    finally:
        base.close()


OPENERS: dict[str, Transport] = {"socket": socket_clients, "in_process": in_process_clients}


def endpoint_reply(request: Received) -> Reply:
    """A local endpoint agent: /ok answers, anything else fails."""
    if request.path == "/ok":
        return Reply.json({"result": "**Done:** " + request.json()["task_description"]})
    return Reply.json({"error": "boom"}, status=500)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LoopbackServer]:
    """One endpoint agent for both transports, so its URL is the same in both runs."""
    with LoopbackServer(endpoint_reply) as server:
        yield server


@pytest.fixture(autouse=True)
def no_language_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prompt agents cannot run: the hire answers llm_not_configured, the same on both paths."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def run_on_both(tmp_path: Path, scenario: Callable[[Connect], Any], **settings: Any) -> dict[str, Any]:
    """``scenario``'s outcome over each transport, each on a fresh, identical market."""
    outcomes = {}
    for name in TRANSPORTS:
        market = deterministic_market(tmp_path / f"{name}.db", **settings)
        try:
            with OPENERS[name](market) as connect:
                outcomes[name] = scenario(connect)
        finally:
            market.close()
    return outcomes
