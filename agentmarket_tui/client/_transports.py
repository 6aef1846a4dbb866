"""The two ways a :class:`MarketClient` reaches a market: a socket, or the server's dispatcher in-process.

Both are httpx transports (one method, ``handle_request``), so the client sends the same
requests and reads the same answers either way; only the bytes' route differs. The
in-process one works like httpx's ``MockTransport`` / WSGI transport: the request goes
straight to ``engine.server.Dispatcher.handle``, with no socket and no thread.
"""

from __future__ import annotations

import httpx

from engine.errors import PayloadTooLarge
from engine.server import MAX_BODY_BYTES, Dispatcher, error_response

#: What the socket server adds to every answer, so an in-process answer reads the same.
_RESPONSE_HEADERS = (("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store"))


def socket_transport() -> httpx.HTTPTransport:
    """The transport to a market server over TCP (keep-alive; a failed connect is retried once)."""
    return httpx.HTTPTransport(retries=1)  # retries connecting only: nothing was sent


class InProcessTransport(httpx.BaseTransport):
    """Hands each request to a :class:`Dispatcher` in this process: no socket, same answers.

    Args:
        dispatcher: answers the requests (it owns the market, routing, auth and envelopes).
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` through the dispatcher (the server's 1 MiB body limit included)."""
        body = request.read()
        if len(body) > MAX_BODY_BYTES:
            answer = error_response(PayloadTooLarge(
                f"the request body is {len(body):,} bytes; the most is {MAX_BODY_BYTES:,}"))
        else:
            target = request.url.raw_path.decode("ascii")  # path and query, as a server reads them
            answer = self.dispatcher.handle(request.method, target, request.headers, body)
        content = b"" if request.method == "HEAD" else answer.body
        return httpx.Response(answer.status, headers=[*_RESPONSE_HEADERS, *answer.headers], content=content,
                              request=request)
