"""The server: a ``ThreadingHTTPServer`` whose connection threads are reused, and its lifecycle.

Each client connection is served by one thread (so a slow client holds only its own
thread); a finished thread waits for the next connection instead of exiting, which
keeps the number of threads, and of SQLite connections (one per thread), at the
peak number of simultaneous clients rather than growing with every connection.
"""

from __future__ import annotations

import logging
import queue
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from engine import Market

from ._dispatch import Dispatcher
from ._handler import MarketRequestHandler

log = logging.getLogger("agentmarket.server")

Job = Callable[[], None]


class _ReusedThreads:
    """Runs jobs on idle threads, starting a new thread only when none is idle."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
            thread = threading.Thread(target=self._work, args=(job,), name=f"http-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
        thread.start()

    def _work(self, job: Job | None) -> None:
        while job is not None:
            job()
            with self._lock:
                self._idle += 1
            job = self._jobs.get()

    def stop(self, grace: float) -> None:
        """Let running jobs finish (up to ``grace`` seconds in all), then end every thread."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class MarketHTTPServer(ThreadingHTTPServer):
    """``http.server`` over a :class:`Dispatcher`, tracking open connections for a clean stop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.closing = False
        self._workers = _ReusedThreads()
        self._connections: set[MarketRequestHandler] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, MarketRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._workers.submit(lambda: self._serve_connection(request, client_address))

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def track(self, handler: MarketRequestHandler) -> None:
        with self._connections_lock:
            self._connections.add(handler)

    def untrack(self, handler: MarketRequestHandler) -> None:
        with self._connections_lock:
            self._connections.discard(handler)

    def drain(self, grace: float) -> None:
        """Close idle keep-alive connections, let requests in flight finish, then end the threads."""
        self.closing = True
        with self._connections_lock:
            idle = [h for h in self._connections if not h.busy]
        for handler in idle:
            try:
                handler.connection.shutdown(socket.SHUT_RD)  # its next read sees the end
            except OSError:
                pass
        self._workers.stop(grace)

    def server_close(self) -> None:
        """Close the listening socket only: :meth:`drain` ends the connection threads."""
        socketserver.TCPServer.server_close(self)


class MarketServer:
    """The AgentMarket HTTP API over a dispatcher: sockets, threads and a clean stop.

    The server is a skin: what runs beside a market (webhook delivery, sweeps, the
    running of hires) is composed by ``engine.runtime.open_market``, whose
    ``dispatcher()`` it serves.

    Args:
        dispatcher: answers each request (``engine.runtime.RunningMarket.dispatcher()``).
        host, port: where to listen; port 0 picks a free port (see :attr:`port`).

    Use ``start()``/``stop()`` (a background thread, for tests and embedding) or
    ``serve_until(event)`` (the calling thread, for ``agentmarket serve``).
    """

    def __init__(self, dispatcher: Dispatcher, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.dispatcher = dispatcher
        self.http = MarketHTTPServer((host, port), self.dispatcher)
        self.host, self.port = self.http.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def market(self) -> Market:
        """The market this server answers for."""
        return self.dispatcher.market

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:8080``."""
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> MarketServer:
        """Serve in a background thread. Returns self."""
        self._thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="http-accept", daemon=True)
        self._thread.start()
        return self

    def serve_until(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set (e.g. by a signal handler), then stop cleanly."""
        self.start()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, end the live streams, and finish requests in flight (up to ``grace`` seconds)."""
        self.dispatcher.live.close()
        if self._thread is not None:
            self.http.shutdown()
            self._thread.join()
            self._thread = None
        self.http.server_close()
        self.http.drain(grace)

    def __enter__(self) -> MarketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
