"""The server: a ``ThreadingHTTPServer`` whose connection threads are reused, and its lifecycle.

Each client connection is served by one thread (so a slow client holds only its own
thread); a finished thread waits for the next connection instead of exiting. Database
connections are the store's bounded pool, lent per transaction, so idle clients hold
no database files.

At most ``max_connections`` clients are served at once (capped by the process's
open-file limit). A new client beyond that takes the place of an idle keep-alive
client, whose connection is closed; when every client is mid-request, it gets a 503
at once and is closed. When ``accept`` itself fails (no file handles left), the
server pauses briefly instead of spinning on the listening socket.
"""

from __future__ import annotations

import errno
import logging
import queue
import resource
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from engine import Market
from engine.config import Config

from . import _access_log
from ._dispatch import Dispatcher
from ._handler import MarketRequestHandler

log = logging.getLogger("agentmarket.server")

Job = Callable[[], None]

#: Clients served at once unless the server is told otherwise (``Config.max_connections``).
DEFAULT_MAX_CONNECTIONS = Config().max_connections
#: File handles kept for everything but clients: the database pool (3 files per
#: connection), the webhook worker's sockets, logs.
RESERVED_FILES = 128
#: Seconds the accept loop rests after ``accept`` failed for lack of resources.
ACCEPT_PAUSE_SECONDS = 0.1
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_BUSY_ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
                b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s")


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


def max_connections_allowed(wanted: int) -> int:
    """``wanted``, lowered so that clients cannot use up the process's file handles."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_FILES))


class MarketHTTPServer(ThreadingHTTPServer):
    """``http.server`` over a :class:`Dispatcher`, tracking open connections for a clean stop
    and serving at most ``max_connections`` at once (see the module's docstring)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher, *,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, reuse_port: bool = False) -> None:
        self.allow_reuse_port = reuse_port  # SO_REUSEPORT: other processes serve the same port
        self.dispatcher = dispatcher
        self.closing = False
        self.max_connections = max_connections_allowed(max_connections)
        self._workers = _ReusedThreads()
        self._connections: set[MarketRequestHandler] = set()
        self._open = 0  # connections holding a slot: handed to a thread and not yet closed or evicted
        self._evicted: set[socket.socket] = set()  # closing to make room; their slot is already passed on
        self._connections_lock = threading.Lock()
        super().__init__(address, MarketRequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in _RESOURCE_ERRORS:
                # The listening socket stays readable: without a pause this loop would spin.
                log.warning("cannot accept a connection (%s); pausing %g s", exc.strerror, ACCEPT_PAUSE_SECONDS)
                time.sleep(ACCEPT_PAUSE_SECONDS)
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            full = self._open >= self.max_connections
            idle = min((h for h in self._connections if not h.busy and not h.evicted),
                       key=lambda h: h.idle_since, default=None) if full else None
            if idle is not None:
                idle.evicted = True  # the newcomer takes over its slot, so _open never passes the limit
                self._evicted.add(idle.connection)
            elif not full:
                self._open += 1
        if full and idle is None:
            self._refuse(request)
            return
        if idle is not None:
            _close_reading(idle.connection)  # its thread ends; the newcomer takes its place
        self._workers.submit(lambda: self._serve_connection(request, client_address))

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 without reading the request, and close: every client is mid-request."""
        body = b'{"success":false,"error":{"code":"service_unavailable","message":"the server is serving as many ' \
               b'clients as it can; retry in a second"}}'
        try:
            request.setblocking(False)  # never wait on this client in the accept loop
            request.send(_BUSY_ANSWER % (len(body), body))
        except OSError:
            pass
        self.shutdown_request(request)

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._connections_lock:
                if request in self._evicted:
                    self._evicted.discard(request)
                else:
                    self._open -= 1

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
            _close_reading(handler.connection)
        self._workers.stop(grace)

    def server_close(self) -> None:
        """Close the listening socket only: :meth:`drain` ends the connection threads."""
        socketserver.TCPServer.server_close(self)


def _close_reading(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RD)  # its next read sees the end
    except OSError:
        pass


class MarketServer:
    """The AgentMarket HTTP API over a dispatcher: sockets, threads and a clean stop.

    The server is a skin: what runs beside a market (webhook delivery, sweeps, the
    running of hires) is composed by ``engine.runtime.open_market``, whose
    ``dispatcher()`` it serves.

    Args:
        dispatcher: answers each request (``engine.runtime.RunningMarket.dispatcher()``).
        host, port: where to listen; port 0 picks a free port (see :attr:`port`).
        max_connections: clients served at once (see :class:`MarketHTTPServer`).
        reuse_port: listen with ``SO_REUSEPORT``, beside other processes on the same port
            (``agentmarket serve --workers N``).

    When the market has no stored ``public_url``, webhooks name this server's address.

    Use ``start()``/``stop()`` (a background thread, for tests and embedding) or
    ``serve_until(event)`` (the calling thread, for ``agentmarket serve``).
    """

    def __init__(self, dispatcher: Dispatcher, host: str = "127.0.0.1", port: int = 8080, *,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, reuse_port: bool = False) -> None:
        self.dispatcher = dispatcher
        self.http = MarketHTTPServer((host, port), self.dispatcher, max_connections=max_connections,
                                     reuse_port=reuse_port)
        self.host, self.port = self.http.server_address[:2]
        if not self.market.public_url:  # webhooks name the address clients can reach
            self.market.public_url = self.url
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
        _access_log.flush()

    def __enter__(self) -> MarketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
