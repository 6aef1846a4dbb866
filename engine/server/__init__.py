"""The AgentMarket HTTP API (SPEC §4) on the standard library's ``http.server``.

>>> from engine.runtime import open_market
>>> from engine.server import MarketServer
>>> with open_market("market.db") as running, MarketServer(running.dispatcher(), port=0) as server:  # doctest: +SKIP
...     print(server.url)

- ``_route_types``: Call, Reply, Route (the table's shapes);
- ``_routes``: the route table, each endpoint's engine call;
- ``_dispatch``: routing, auth, rate limits, idempotency, the JSON envelope;
- ``_handler``: HTTP/1.1 framing and defensive body reading;
- ``_server``: sockets, threads and a clean stop;
- ``_live``: the live event stream (Server-Sent Events), its wake-ups and bounds;
- ``_cors``: CORS headers and preflights for the allowed browser origins;
- ``_openapi``: the OpenAPI 3.1 document, generated from the route table.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from ._client_address import parse_networks
from ._dispatch import Dispatcher, Stream, error_response
from ._handler import MAX_BODY_BYTES
from . import _openapi
from ._route_types import Route
from ._routes import ROUTES
from ._server import DEFAULT_MAX_CONNECTIONS, MarketServer
from ._workers import serve_workers

__all__ = ["MAX_BODY_BYTES", "ROUTES", "Dispatcher", "MarketServer", "Route", "Stream", "error_response",
           "openapi_document", "parse_networks", "serve", "serve_workers"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of this API."""
    return _openapi.openapi_document(ROUTES)


def serve(dispatcher: Dispatcher, host: str = "127.0.0.1", port: int = 8080, *,
          max_connections: int = DEFAULT_MAX_CONNECTIONS, ready: threading.Event | None = None,
          reuse_port: bool = False) -> None:
    """Serve ``dispatcher`` until SIGTERM or Ctrl-C, then stop cleanly (``agentmarket serve``).

    Args:
        dispatcher: the running market's dispatcher (``engine.runtime.open_market``).
        host, port: where to listen.
        max_connections: clients served at once (capped by the open-file limit).
        ready: set once the server accepts connections.
        reuse_port: listen with ``SO_REUSEPORT`` beside other workers (``serve_workers``).

    A warning is logged at start-up while private URLs are allowed.
    """
    _log_to_stderr()
    if dispatcher.market.allow_private_urls:
        logging.getLogger("agentmarket.server").warning(
            "WARNING: private URLs are allowed: agents may make this server call loopback and private-network "
            "addresses (development and tests only)")
    server = MarketServer(dispatcher, host, port, max_connections=max_connections, reuse_port=reuse_port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.getLogger("agentmarket.server").info("AgentMarket API on %s (market %s)", server.url,
                                                 dispatcher.market.path)
    if ready is not None:
        ready.set()
    server.serve_until(stop)
    logging.getLogger("agentmarket.server").info("stopped")


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access = logging.StreamHandler(sys.stderr)  # its records are lines that carry their own times
    for name in ("agentmarket.access", "agentmarket.server", "agentmarket.market", "agentmarket.outbound"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(access if name == "agentmarket.access" else handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
