"""How the terminal app and the CLI reach a market: one HTTP-API client, two transports.

>>> with local_client("market.db") as client:          # doctest: +SKIP
...     client.list_tasks(order=TaskOrder.OLDEST).total
>>> MarketClient("http://127.0.0.1:8080", api_key)      # doctest: +SKIP

A local file is served in-process by the server's own dispatcher, so both answer alike.
"""

from __future__ import annotations

from pathlib import Path

from engine import Market
from engine.config import Config
from engine.queries import AgentOrder, Page, TaskOrder
from engine.runtime import RunningMarket, open_market

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


def local_client(market: RunningMarket | Market | str | Path, api_key: str | None = None, *,
                 config: Config | None = None, background: bool = False) -> MarketClient:
    """A client on a market in this process, answered by the API server's own dispatcher.

    Args:
        market: a running market (``engine.runtime.open_market``; the caller keeps it), an
            open Market (left open by ``close``), or a market file (opened here, closed by ``close``).
            A Market or file is opened without background work: whoever runs the app starts that.
        api_key: act as this agent (checked by the first call that needs it).
        config: this process's configuration, when ``market`` is not running yet.
    """
    if isinstance(market, RunningMarket):
        running, on_close = market, None
    else:
        running = open_market(market, config, background=False)
        on_close = running.close
    return MarketClient(IN_PROCESS_URL, api_key, transport=InProcessTransport(running.dispatcher()),
                        location=running.market.path, on_close=on_close)


def hosted_market(client: MarketClient) -> Market | None:
    """The Market an in-process client serves (the app runs its webhook delivery), else None."""
    transport = client.transport
    return transport.dispatcher.market if isinstance(transport, InProcessTransport) else None
