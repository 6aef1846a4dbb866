"""The ``http.server`` request handler: HTTP/1.1 framing around the dispatcher.

It reads bodies defensively (Content-Length only, at most 1 MiB, refused unread when
larger), answers every request, including ones ``http.server`` itself cannot parse, with a
JSON envelope, and writes each response in one ``send`` (a streamed answer, the live
event stream, is written chunk by chunk until it ends, and the connection then closes).
"""

from __future__ import annotations

import select
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Protocol

from engine.errors import BadRequest, MarketError, PayloadTooLarge

from . import _access_log
from ._dispatch import Dispatcher, Response, error_response


class ConnectionHost(Protocol):
    """What a handler needs of its server (``_server.MarketHTTPServer``)."""

    dispatcher: Dispatcher
    closing: bool

    def track(self, handler: MarketRequestHandler) -> None: ...

    def untrack(self, handler: MarketRequestHandler) -> None: ...

MAX_BODY_BYTES = 1024 * 1024
#: The socket send buffer of a live stream.
STREAM_SEND_BUFFER_BYTES = 64 * 1024
#: Seconds a client may stay silent mid-request or between keep-alive requests.
CLIENT_TIMEOUT_SECONDS = 15.0

_PHRASES = {s.value: s.phrase for s in HTTPStatus}
_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class MarketRequestHandler(BaseHTTPRequestHandler):
    """Serves one client connection (many keep-alive requests) for a ``MarketHTTPServer``."""

    server: ConnectionHost  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"
    server_version = "AgentMarket"
    timeout = CLIENT_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # TCP_NODELAY: a keep-alive response must not wait ~40 ms
    busy = False

    def handle(self) -> None:
        self.server.track(self)
        try:
            super().handle()
        finally:
            self.server.untrack(self)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            self.busy = False

    def _serve(self) -> None:
        self.busy = True
        started = time.perf_counter()
        method = self.command or "-"
        try:
            body = self._read_body()
        except MarketError as exc:
            self.close_connection = True  # the rest of the body is unread or unreadable
            response = self.server.dispatcher.refusal(exc, self.headers, method, self.path)
        else:
            response = self.server.dispatcher.handle(method, self.path, self.headers, body,
                                                     peer=self.client_address[0])
        if self.server.closing:
            self.close_connection = True
        if response.stream is not None:
            self._send_stream(response, head_only=method == "HEAD")
        else:
            self._send(response, head_only=method == "HEAD")
        _access_log.record(self.client_address[0], method, self.path, response.status,
                           (time.perf_counter() - started) * 1000)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        """The request body, by its Content-Length.

        Raises:
            BadRequest: chunked encoding, a malformed Content-Length, or a body that ends early.
            PayloadTooLarge: more than 1 MiB (not read).
        """
        if self.headers.get("Transfer-Encoding") is not None:
            raise BadRequest("chunked request bodies are not supported; send a Content-Length")
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or ()}
        if not lengths:
            return b""
        length = lengths.pop()
        if lengths or not (length.isascii() and length.isdigit()):
            raise BadRequest("the Content-Length header is not one whole number")
        size = int(length)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the request body is {size:,} bytes; the most is {MAX_BODY_BYTES:,}")
        try:
            body = self.rfile.read(size)
        except (TimeoutError, OSError):
            body = b""
        if len(body) < size:
            raise BadRequest("the request body ended before its Content-Length")
        return body

    def _head(self, response: Response, length: int | None) -> bytes:
        lines = [
            f"HTTP/1.1 {response.status} {_PHRASES.get(response.status, '')}",
            f"Content-Type: {response.content_type}",
            f"Date: {_http_date()}",
            "Cache-Control: no-store",
        ]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{name}: {value}" for name, value in response.headers]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, response: Response, *, head_only: bool = False) -> None:
        head = self._head(response, len(response.body))
        try:
            self.wfile.write(head if head_only else head + response.body)
        except OSError:  # the client went away; nothing more to say to it
            self.close_connection = True

    def _send_stream(self, response: Response, *, head_only: bool = False) -> None:
        """Write a streamed answer: its body runs until the stream ends or the connection
        closes (no Content-Length). A reader that leaves a write blocked for the live
        streams' ``write_timeout`` is dropped, so a slow reader costs no memory."""
        assert response.stream is not None
        self.close_connection = True
        try:
            # The kernel's buffer is a buffer too: keep it small, so a reader that stops
            # reading blocks the writer (and is dropped) after a bounded amount.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SEND_BUFFER_BYTES)
            self.connection.settimeout(self.server.dispatcher.live.write_timeout)
            self.wfile.write(self._head(response, None))
            if not head_only:
                for chunk in response.stream:
                    if chunk:
                        self.wfile.write(chunk)
                    elif self._peer_closed():
                        break
        except OSError:  # gone, or too slow to read (TimeoutError): drop it
            pass
        finally:
            response.stream.close()

    def _peer_closed(self) -> bool:
        """Whether the client has closed its end (it sends nothing else on a stream)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer what ``http.server`` could not parse with a JSON error, never its HTML page."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            # An unknown method on a well-formed request: routing answers 405 with Allow.
            self._serve()
            return
        self.close_connection = True
        self._send(error_response(BadRequest(f"the HTTP request is malformed ({message or code})")))
        _access_log.record(self.client_address[0], self.command or "-", self.path if hasattr(self, "path") else "-",
                           400, 0.0)

    def log_message(self, format: str, *args: object) -> None:
        """Silence ``http.server``'s own logging: ``_access_log`` writes one line per request."""
