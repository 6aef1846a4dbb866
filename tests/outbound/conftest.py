"""Fixtures for outbound calls: a trusted test CA, HTTPS receivers, a market that may call loopback."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from engine import Market
from engine.outbound import DeliveryWorker

from .servers import LoopbackServer, Responder

#: Host names the receivers' certificate is valid for.
CERT_HOSTS = ("localhost", "127.0.0.1", "pinned.test")


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*CERT_HOSTS).configure_cert(context)
    return context


@pytest.fixture(autouse=True)
def outbound_env(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Trust the test CA (as SSL_CERT_FILE), fast retries, no Anthropic settings from the host."""
    bundle = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("AGENTMARKET_WEBHOOK_BACKOFF", "0.05")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "AGENTMARKET_MODEL", "AGENTMARKET_EXECUTION_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return bundle


@pytest.fixture
def open_market(market: Market) -> Market:
    """A market that lets agents' URLs point at loopback, where the test servers are."""
    market.allow_private_urls = True
    return market


@pytest.fixture
def receiver(server_tls: ssl.SSLContext) -> Callable[..., LoopbackServer]:
    """Start HTTPS receivers (``https://localhost:<port>``); each is stopped after the test."""
    started: list[LoopbackServer] = []

    def start(responder: Responder | None = None, host_name: str = "localhost") -> LoopbackServer:
        server = LoopbackServer(responder, tls=server_tls, host_name=host_name).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def start_worker() -> Iterator[Callable[..., DeliveryWorker]]:
    """Start delivery workers with test-speed settings; each is stopped after the test."""
    started: list[DeliveryWorker] = []

    def start(market: Market, **options: object) -> DeliveryWorker:
        settings = {"timeout": 2.0, "poll_interval": 0.02, "lease_seconds": 2.0, "backoff": 0.05, **options}
        worker = DeliveryWorker(market, **settings).start()  # type: ignore[arg-type]
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(grace=0.5)
