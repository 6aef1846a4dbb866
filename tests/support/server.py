"""Start the real AgentMarket HTTP server for a test, on a free loopback port.

Two ways, same result (a base URL and the market file behind it):

- :func:`running_server` serves from a background thread of the test process
  (fast; use ``server.market`` to look at or arrange the market directly);
- :func:`server_process` runs ``agentmarket serve`` as a child process (for kill -9,
  signals, and anything that must not share the test's process).

In a conftest::

    from tests.support.server import api_server  # noqa: F401  (the fixture)

    def test_health(api_server):
        assert httpx.get(f"{api_server.url}/api/health").json()["success"]
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import Market
from engine.config import load_config
from engine.runtime import open_market
from engine.server import MarketServer
from engine.storage import is_postgres_url

_URL_LINE = re.compile(r"AgentMarket API on (http://\S+)")
START_TIMEOUT_SECONDS = 30.0


#: A market file, or a PostgreSQL database's URL (kept a string: a Path would fold its "//").
Db = Path | str


def as_db(db: Path | str) -> Db:
    """``db`` as a Path for a file, as given for a ``postgresql://`` URL."""
    return db if is_postgres_url(db) else Path(db)


def _log_path(db: Db) -> Path:
    """Where a child server's stderr goes: beside the file, or in the temporary directory for a URL."""
    stem = f"{db}" if isinstance(db, Path) else os.path.join(tempfile.gettempdir(), "agentmarket-pg")
    return Path(f"{stem}.serve-{os.getpid()}-{time.monotonic_ns()}.log")


@dataclass
class RunningServer:
    """A server in this process: its base URL, market file (or URL) and the server's own Market."""

    url: str
    db: Db
    market: Market
    server: MarketServer

    def client(self, api_key: str | None = None, **options: Any) -> httpx.Client:
        """An httpx client on the server (keep-alive), sending ``api_key`` when given. Close it."""
        headers = {"X-API-Key": api_key} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=options.pop("timeout", 30.0), **options)


@contextmanager
def running_server(
    db: Db,
    *,
    allow_private_urls: bool = True,
    deliver_webhooks: bool = True,
    settings: dict[str, Any] | None = None,
    market: Market | None = None,
    registrations_per_hour: int = 0,
    trusted_proxies: tuple[str, ...] = (),
) -> Iterator[RunningServer]:
    """Serve ``db`` from a background thread on 127.0.0.1 and a free port; stop it afterwards.

    Args:
        db: the market file (created if missing).
        allow_private_urls: let agents use loopback endpoint and webhook URLs (tests' receivers).
        deliver_webhooks: run the webhook delivery worker, as ``agentmarket serve`` does (sweeps always run).
        settings: more market settings (``Market.configure``), e.g. ``{"rate_limit_per_minute": 5}``.
        market: serve this Market (e.g. one with a fixed clock) instead of opening ``db``.
        registrations_per_hour: the per-address registration limit; tests register many agents
            from one loopback address, so 0 (no limit) unless a test is about the limit.
        trusted_proxies: CIDRs whose X-Forwarded-For names the client (``--trusted-proxy``).
    """
    own = market is None
    market = market or Market(db)
    try:
        market.allow_private_urls = allow_private_urls
        if settings:
            market.configure(**settings)
        # The test is the edge here: it reads the environment as `agentmarket serve` does.
        config = load_config({"registrations_per_hour": registrations_per_hour, "trusted_proxies": trusted_proxies},
                             os.environ)
        with open_market(market, config, deliver_webhooks=deliver_webhooks) as running:
            server = MarketServer(running.dispatcher(), "127.0.0.1", 0).start()
            try:
                yield RunningServer(server.url, as_db(db), market, server)
            finally:
                server.stop(grace=5.0)
    finally:
        if own:
            market.close()


@dataclass
class ServerProcess:
    """``agentmarket serve`` in a child process."""

    url: str
    db: Db
    process: subprocess.Popen[bytes]
    log: Path = field(repr=False)

    def stderr(self) -> str:
        """What the server wrote to stderr so far (its access log)."""
        return self.log.read_text(errors="replace")

    def workers(self) -> list[int]:
        """The process ids of its ``--workers`` processes (its children)."""
        pid = self.process.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def started_workers(self) -> int:
        """How many server processes have started listening so far (each logs its address once)."""
        return self.stderr().count("AgentMarket API on")

    def replacement(self, survivor: int, starts: int, timeout: float = 60.0) -> int:
        """Wait until there are two workers again, ``survivor`` and another, and the
        ``starts``-th worker has started listening; return the other's pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if self.started_workers() >= starts and len(workers) == 2 and survivor in workers:
                return next(pid for pid in workers if pid != survivor)
            time.sleep(0.05)
        raise AssertionError(f"no worker replaced the dead one within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (for durability tests)."""
        self.process.kill()
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait for a clean exit. Returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@contextmanager
def server_process(db: Db, *, allow_private_urls: bool = True, extra_args: tuple[str, ...] = (),
                   env: dict[str, str] | None = None, settings_from_env: bool = False,
                   registrations_per_hour: int | None = 0, open_files: int | None = None) -> Iterator[ServerProcess]:
    """Run ``agentmarket serve --db DB --port 0`` and wait until it answers; kill it afterwards.

    Args:
        db: the market file.
        allow_private_urls: pass ``--allow-private-urls``.
        extra_args: more ``serve`` options.
        env: extra environment variables for the child.
        settings_from_env: give the file and ``allow_private_urls`` as ``AGENTMARKET_DB`` and
            ``AGENTMARKET_ALLOW_PRIVATE_URLS=1`` instead of options.
        registrations_per_hour: ``--registrations-per-hour`` (0, no limit, by default: tests
            register many agents from one address); None leaves the server's default.
        open_files: the child's limit on open files (``ulimit -n``), if given.
    """
    log = _log_path(as_db(db))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTMARKET_")}
    args = ["serve", "--host", "127.0.0.1", "--port", "0", *extra_args]
    if registrations_per_hour is not None:
        args += ["--registrations-per-hour", str(registrations_per_hour)]
    if settings_from_env:
        child_env["AGENTMARKET_DB"] = str(db)
        if allow_private_urls:
            child_env["AGENTMARKET_ALLOW_PRIVATE_URLS"] = "1"
    else:
        args += ["--db", str(db), *(["--allow-private-urls"] if allow_private_urls else [])]
    child_env.update(env or {})
    with log.open("wb") as sink:
        limit = None if open_files is None else (
            lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files)))
        process = subprocess.Popen([sys.executable, "-c", "from agentmarket_tui.cli import main; main()", *args],
                                   stdout=subprocess.DEVNULL, stderr=sink, env=child_env, preexec_fn=limit)
    try:
        url = _wait_for_url(process, log)
        yield ServerProcess(url, as_db(db), process, log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.unlink(missing_ok=True)


def _wait_for_url(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = _URL_LINE.search(log.read_text(errors="replace"))
        if found:
            url = found.group(1)
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("agentmarket serve did not start:\n" + log.read_text(errors="replace")[-2000:])


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A fresh market served on a free loopback port from this process (private URLs allowed)."""
    with running_server(tmp_path / "market.db") as server:
        yield server


def health_over(sock: socket.socket) -> bytes:
    """Send ``GET /api/health`` on an open keep-alive socket and return the whole answer,
    asserting the server answered 200 rather than closing the connection."""
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b'{"status":"ok"}}'):
        chunk = sock.recv(4096)
        assert chunk, "the server closed a connection instead of answering"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    return answer
