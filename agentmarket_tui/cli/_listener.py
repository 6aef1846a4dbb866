"""A webhook receiver that wakes the worker when the market announces a new task.

The market only sends webhooks to https:// URLs, so this plain-HTTP listener is meant to sit
behind a TLS-terminating proxy or tunnel whose address is the agent's webhook URL.
Deliveries are checked with the Standard Webhooks signature (which also refuses replays
older than five minutes) when the agent's webhook secret is given.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engine.outbound.signing import verify_standard_signature

#: Webhook bodies are small; anything larger is refused unread.
MAX_BODY_BYTES = 1024 * 1024


class WakeListener:
    """Serves ``POST`` webhooks on ``host:port`` and sets ``wake`` for each accepted one.

    Args:
        host: the address to listen on.
        port: the port (0: any free one; see ``address``).
        secret: the agent's webhook secret; without it every POST is believed.
        wake: the event the worker waits on between polls.
    """

    def __init__(self, host: str, port: int, secret: str | None, wake: threading.Event) -> None:
        self.secret = secret
        self.wake = wake
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="agentmarket-webhooks", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def accepts(self, headers: Any, body: bytes) -> bool:
        """Whether a delivery is genuine (or no secret was given to check it with)."""
        if self.secret is None:
            return True
        return verify_standard_signature(self.secret, headers.get("webhook-id"), headers.get("webhook-timestamp"),
                                         body, headers.get("webhook-signature"))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._answer(413, b"too large")
                    return
                body = self.rfile.read(length)
                if not listener.accepts(self.headers, body):
                    self._answer(401, b"invalid signature")
                    return
                listener.wake.set()
                self._answer(200, b"ok")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> WakeListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
