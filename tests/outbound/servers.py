"""Real loopback servers the outbound tests talk to: an HTTPS webhook receiver, an
endpoint agent and a stand-in for the Anthropic Messages API."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Received:
    """One request a server got."""

    method: str
    path: str
    headers: httpx.Headers  # case-insensitive
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What a server answers: a status, headers, a body, optionally after a pause."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


Responder = Callable[[Received], Reply]


class LoopbackServer:
    """A threaded HTTP(S) server on a free loopback port that records every request and
    answers through ``responder`` (200 "ok" by default)."""

    def __init__(self, responder: Responder | None = None, *, tls: ssl.SSLContext | None = None,
                 host_name: str = "127.0.0.1") -> None:
        self.requests: list[Received] = []
        self.responder: Responder = responder or (lambda _: Reply())
        self.release = threading.Event()  # lets a responder block until the test says so
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        if tls is not None:
            # The handshake happens on first read, in the request's own thread.
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://{host_name}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms each)

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(self.command, self.path, httpx.Headers(list(self.headers.items())),
                                    self.rfile.read(length))
                with server._lock:
                    server.requests.append(received)
                reply = server.responder(received)
                if reply.delay:
                    server.release.wait(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the caller gave up (a timeout test) or was killed

            do_GET = do_POST  # noqa: N815 (an old API server's answers, for clients' fallbacks)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def scripted(*replies: Reply) -> Responder:
    """Answer with ``replies`` in turn, then with the last one forever."""
    queue = list(replies)
    lock = threading.Lock()

    def respond(_: Received) -> Reply:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return respond


def messages_reply(text: str) -> Reply:
    """A valid Anthropic Messages API response carrying ``text``."""
    return Reply.json({
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    })


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it is truthy (and return it) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def serving(responder: Responder | None = None, **options: Any) -> Iterator[LoopbackServer]:
    with LoopbackServer(responder, **options) as server:
        yield server
