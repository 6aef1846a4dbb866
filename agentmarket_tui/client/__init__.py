"""How the terminal app and the CLI reach a market: one HTTP-API client, two transports.

>>> with local_client("market.db") as client:          # doctest: +SKIP
...     client.list_tasks(order=TaskOrder.OLDEST).total
>>> MarketClient("http://127.0.0.1:8080", api_key)      # doctest: +SKIP

A local file is served in-process by the server's own dispatcher, so both answer alike.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine import Market
from engine.queries import AgentOrder, Page, TaskOrder
from engine.server import Dispatcher

from ._client import MINE, ExecutionResult, MarketClient
from ._errors import ConnectionFailed, NoIdentity
from ._transports import InProcessTransport, socket_transport

__all__ = [
    "MINE",
    "AgentOrder",
    "ConnectionFailed",
    "ExecutionResult",
    "IN_PROCESS_URL",
    "InProcessTransport",
    "MarketClient",
    "NoIdentity",
    "Page",
    "TaskOrder",
    "hosted_market",
    "local_client",
    "socket_transport",
]

#: The base URL of in-process requests (never resolved: no socket is opened).
IN_PROCESS_URL = "http://agentmarket.in-process"


def local_client(market: Market | str | Path, api_key: str | None = None) -> MarketClient:
    """A client on a market in this process, answered by the API server's dispatcher.

    The one place a local market's client is built (the composition root will take it over).

    Args:
        market: an open Market (left open by ``close``), or a market file to open (closed by ``close``).
        api_key: act as this agent (checked by the first call that needs it).
    """
    owned = not isinstance(market, Market)
    opened = Market(market) if owned else market
    try:
        # As `agentmarket serve` builds it: anonymous reads cached while the market is unchanged.
        cache = os.environ.get("AGENTMARKET_RESPONSE_CACHE", "1") != "0"
        dispatcher = Dispatcher(opened, cache_responses=cache)
        return MarketClient(IN_PROCESS_URL, api_key, transport=InProcessTransport(dispatcher),
                            location=opened.path, on_close=opened.close if owned else None)
    except BaseException:
        if owned:
            opened.close()
        raise


def hosted_market(client: MarketClient) -> Market | None:
    """The Market an in-process client serves (the app runs its webhook delivery), else None."""
    transport = client.transport
    return transport.dispatcher.market if isinstance(transport, InProcessTransport) else None
