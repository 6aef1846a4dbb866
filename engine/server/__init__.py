"""The AgentMarket HTTP API (SPEC §4) on the standard library's ``http.server``.

>>> from engine.server import MarketServer
>>> with MarketServer("market.db", port=0) as server:   # doctest: +SKIP
...     print(server.url)

- ``_route_types``: Call, Reply, Route (the table's shapes);
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
from typing import Any

from engine import Market

from ._dispatch import Dispatcher
from ._handler import MAX_BODY_BYTES
from . import _openapi
from ._route_types import Route
from ._routes import ROUTES
from ._server import MarketServer

__all__ = ["MAX_BODY_BYTES", "ROUTES", "Dispatcher", "MarketServer", "Route", "openapi_document", "serve"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of this API."""
    return _openapi.openapi_document(ROUTES)


def serve(db: str | Path, host: str = "127.0.0.1", port: int = 8080, *, public_url: str | None = None,
          allow_private_urls: bool | None = None, ready: threading.Event | None = None) -> None:
    """Run the API on ``db`` until SIGTERM or Ctrl-C, then stop cleanly.

    Args:
        db: the market file (created if missing).
        host, port: where to listen.
        public_url: stored as the market's ``public_url`` setting (sent in webhooks).
        allow_private_urls: stored as the market's ``allow_private_urls`` setting.
        ready: set once the server accepts connections.

    ``AGENTMARKET_RESPONSE_CACHE=0`` turns off the cache of anonymous GET answers.
    """
    from engine.outbound import execute  # the running of a hire, composed here above engine and outbound

    _log_to_stderr()
    with Market(db) as market:
        changes: dict[str, object] = {}
        if public_url is not None:
            changes["public_url"] = public_url
        if allow_private_urls is not None:
            changes["allow_private_urls"] = allow_private_urls
        if changes:
            market.configure(**changes)
        cache = os.environ.get("AGENTMARKET_RESPONSE_CACHE", "1") != "0"
        server = MarketServer(market, host, port, cache_responses=cache, hire_runner=execute)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        logging.getLogger("agentmarket.server").info("AgentMarket API on %s (market %s)", server.url, market.path)
        if ready is not None:
            ready.set()
        server.serve_until(stop)
        logging.getLogger("agentmarket.server").info("stopped")


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    for name in ("agentmarket.access", "agentmarket.server"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
