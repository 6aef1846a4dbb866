"""The AgentMarket HTTP API (SPEC §4) on the standard library's ``http.server``.

>>> from engine.server import MarketServer
>>> with MarketServer("market.db", port=0) as server:   # doctest: +SKIP
...     print(server.url)

- ``_routes``: the route table, each endpoint's engine call;
- ``_dispatch``: routing, auth, rate limits, idempotency, the JSON envelope;
- ``_handler``: HTTP/1.1 framing and defensive body reading;
- ``_server``: threads, a clean stop, and the webhook delivery worker;
- ``_openapi``: the OpenAPI 3.1 document, generated from the route table.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from engine import Market

from ._dispatch import Dispatcher
from ._handler import MAX_BODY_BYTES
from ._openapi import openapi_document
from ._routes import ROUTES, Route
from ._server import DEFAULT_MAX_CONNECTIONS, MarketServer

__all__ = ["MAX_BODY_BYTES", "ROUTES", "Dispatcher", "MarketServer", "Route", "openapi_document", "serve"]


def serve(db: str | Path, host: str = "127.0.0.1", port: int = 8080, *, public_url: str | None = None,
          allow_private_urls: bool = False, max_connections: int = DEFAULT_MAX_CONNECTIONS,
          ready: threading.Event | None = None) -> None:
    """Run the API on ``db`` until SIGTERM or Ctrl-C, then stop cleanly.

    Args:
        db: the market file (created if missing).
        host, port: where to listen.
        public_url: stored as the market's ``public_url`` setting (sent in webhooks);
            unset, webhooks name the address the server bound.
        allow_private_urls: let agents' URLs point at private and loopback addresses, for
            this process only (never stored); a warning is logged at start-up when on.
        max_connections: clients served at once (capped by the open-file limit).
        ready: set once the server accepts connections.

    ``AGENTMARKET_RESPONSE_CACHE=0`` turns off the cache of anonymous GET answers.
    """
    _log_to_stderr()
    server_log = logging.getLogger("agentmarket.server")
    with Market(db, allow_private_urls=allow_private_urls) as market:
        if public_url is not None:
            market.configure(public_url=public_url)
        if allow_private_urls:
            server_log.warning("WARNING: private URLs are allowed: agents may make this server call loopback and "
                               "private-network addresses (development and tests only)")
        cache = os.environ.get("AGENTMARKET_RESPONSE_CACHE", "1") != "0"
        server = MarketServer(market, host, port, cache_responses=cache, max_connections=max_connections)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        server_log.info("AgentMarket API on %s (market %s)", server.url, market.path)
        if ready is not None:
            ready.set()
        server.serve_until(stop)
        server_log.info("stopped")


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    for name in ("agentmarket.access", "agentmarket.server", "agentmarket.market", "agentmarket.outbound"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
