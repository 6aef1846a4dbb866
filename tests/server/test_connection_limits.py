"""Idle clients cannot exhaust the server's file handles or threads (issue 12, finding 3).

The attack: many keep-alive clients make one request each and then say nothing. Each
used to hold a thread and that thread's own SQLite connection; under ``ulimit -n`` the
handles ran out, ``accept`` failed, and the accept loop spun on it while new clients
timed out.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from engine import Market
from engine.server import Dispatcher, MarketServer
from engine.storage.connection import POOL_SIZE
from tests.support.server import server_process

REQUEST = b"GET /api/health HTTP/1.1\r\nHost: market\r\n\r\n"


def idle_keep_alive_clients(stack: ExitStack, url: str, count: int) -> list[socket.socket]:
    """``count`` clients that each send one keep-alive request, all at once, and then stay silent."""
    host, port = url.removeprefix("http://").split(":")
    clients = []
    for _ in range(count):
        try:
            sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=1))
            sock.settimeout(0.2)
            sock.sendall(REQUEST)
        except OSError:
            continue  # the backlog is full: what the attack brings about
        clients.append(sock)
    for sock in clients:
        try:
            sock.recv(4096)
        except OSError:
            pass  # never answered, refused or closed to make room
    return clients


def fresh_client_status(url: str) -> int:
    """A new client's answer to GET /api/health: served (200) or refused (503) within a second."""
    with httpx.Client(base_url=url, timeout=1.0) as client:
        return client.get("/api/health").status_code


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks of 1/100 s


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[MarketServer]:
    with Market(tmp_path / "market.db") as market:
        server = MarketServer(Dispatcher(market), "127.0.0.1", 0, max_connections=8).start()
        try:
            yield server
        finally:
            server.stop(grace=1.0)


def test_more_idle_clients_than_the_limit_leave_room_for_a_fresh_one(small_server: MarketServer) -> None:
    with ExitStack() as stack:
        idle_keep_alive_clients(stack, small_server.url, 40)
        assert fresh_client_status(small_server.url) in (200, 503)
        assert small_server.http._open <= small_server.http.max_connections
        assert len(small_server.market.context.store._all) <= POOL_SIZE + 1  # the pool and the change watcher


def test_a_client_beyond_the_limit_gets_a_quick_503_when_every_client_is_mid_request(tmp_path: Path) -> None:
    with Market(tmp_path / "market.db") as market:
        server = MarketServer(Dispatcher(market), "127.0.0.1", 0, max_connections=2).start()
        host, port = server.url.removeprefix("http://").split(":")
        try:
            with ExitStack() as stack:
                for _ in range(2):  # mid-request: headers begun, never finished
                    sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
                    sock.sendall(b"POST /api/tasks HTTP/1.1\r\nHost: market\r\nContent-Length: 10\r\n\r\n{")
                time.sleep(0.3)  # both are being read
                response = httpx.get(f"{server.url}/api/health", timeout=1.0)
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "service_unavailable"
                assert response.headers["Retry-After"] == "1"
        finally:
            server.stop(grace=0.5)


@pytest.mark.slow
def test_under_ulimit_idle_clients_neither_lock_out_new_ones_nor_spin_the_cpu(tmp_path: Path) -> None:
    with server_process(tmp_path / "market.db", open_files=200) as served, ExitStack() as stack:
        idle_keep_alive_clients(stack, served.url, 180)  # more than 200 handles' worth, as in the attack
        time.sleep(0.2)
        before = cpu_seconds(served.process.pid)
        time.sleep(1.0)
        assert cpu_seconds(served.process.pid) - before < 0.3  # idle: no accept loop spinning
        assert fresh_client_status(served.url) in (200, 503)
