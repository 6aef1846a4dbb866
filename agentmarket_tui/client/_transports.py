"""The two ways a :class:`MarketClient` reaches a market: a socket, or the server's dispatcher in-process.

Both are httpx transports (one method, ``handle_request``), so the client sends the same
requests and reads the same answers either way; only the bytes' route differs. The
in-process one works like httpx's ``MockTransport`` / WSGI transport: the request goes
straight to ``engine.server.Dispatcher.handle``, with no socket and no thread.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from engine.errors import PayloadTooLarge
from engine.server import MAX_BODY_BYTES, Dispatcher, Stream

#: What the socket server adds to every answer, so an in-process answer reads the same.
_RESPONSE_HEADERS = (("Cache-Control", "no-store"),)


class _StreamedBody(httpx.SyncByteStream):
    """A dispatcher's streamed answer (the live event stream) as an httpx body; closing it ends the stream."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        return (chunk for chunk in self._stream if chunk)  # ticks are for sockets

    def close(self) -> None:
        self._stream.close()


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
        target = request.url.raw_path.decode("ascii")  # path and query, as a server reads them
        if len(body) > MAX_BODY_BYTES:
            answer = self.dispatcher.refusal(PayloadTooLarge(
                f"the request body is {len(body):,} bytes; the most is {MAX_BODY_BYTES:,}"),
                request.headers, request.method, target)
        else:
            answer = self.dispatcher.handle(request.method, target, request.headers, body)
        headers = [("Content-Type", answer.content_type), *_RESPONSE_HEADERS, *answer.headers]
        if answer.stream is not None:
            if request.method == "HEAD":
                answer.stream.close()
                return httpx.Response(answer.status, headers=headers, content=b"", request=request)
            return httpx.Response(answer.status, headers=headers, stream=_StreamedBody(answer.stream),
                                  request=request)
        content = b"" if request.method == "HEAD" else answer.body
        return httpx.Response(answer.status, headers=headers, content=content, request=request)
