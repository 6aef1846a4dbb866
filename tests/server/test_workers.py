"""``agentmarket serve --workers 2``: two processes on one port over one file, with one
idempotency, one registration limit, one rate limit, keys rotated everywhere at once, and
a SIGTERM that drains both."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from engine import Market
from tests.support.server import ServerProcess, server_process

WORKERS = ("--workers", "2")
TRIES = 12  # fresh connections: the kernel spreads them over both workers


def _fresh(server: ServerProcess, method: str, path: str, **options: object) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:  # a new connection each time
        return client.request(method, path, **options)  # type: ignore[arg-type]


def _register(server: ServerProcess, name: str) -> httpx.Response:
    return _fresh(server, "POST", "/api/agents/register", json={
        "name": name, "capabilities": ["x"], "owner_email": f"{name.lower()}@example.com"})


@pytest.mark.slow
def test_two_workers_share_one_registration_limit_and_one_idempotency(tmp_path: Path) -> None:
    with server_process(tmp_path / "m.db", extra_args=WORKERS, registrations_per_hour=3) as server:
        assert len(server.workers()) == 2
        codes = [_register(server, f"Agent{n}").status_code for n in range(6)]
        assert codes.count(201) == 3 and codes.count(429) == 3
        with Market(tmp_path / "m.db") as market:
            key = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com").api_key
        headers = {"X-API-Key": key, "Idempotency-Key": "same-post-across-workers"}
        answers = [_fresh(server, "POST", "/api/tasks", headers=headers, json={"title": "once", "budget": 5})
                   for _ in range(TRIES)]
        assert {a.status_code for a in answers} == {201}
        assert len({a.json()["data"]["id"] for a in answers}) == 1
        assert all(a.headers.get("Idempotent-Replayed") == "true" for a in answers[1:])
        assert server.terminate() == 0
    with Market(tmp_path / "m.db") as market:
        assert market.count_tasks() == 1 and market.verify_ledger().ok


@pytest.mark.slow
def test_two_workers_share_one_rate_limit_and_a_rotated_key_stops_in_both(tmp_path: Path) -> None:
    with Market(tmp_path / "m.db") as market:
        market.configure(rate_limit_per_minute=8, key_grace_seconds=0)
        registration = market.register_agent(name="Caller", capabilities=["x"], owner_email="c@example.com")
    key = registration.api_key
    with server_process(tmp_path / "m.db", extra_args=WORKERS) as server:
        codes = [_fresh(server, "GET", "/api/wallet", headers={"X-API-Key": key}).status_code for _ in range(TRIES)]
        assert codes.count(200) == 8 and codes.count(429) == TRIES - 8
    with Market(tmp_path / "m.db") as market:
        market.configure(rate_limit_per_minute=0)  # read when a server starts
    with server_process(tmp_path / "m.db", extra_args=WORKERS) as server:
        for _ in range(TRIES):  # both workers now know the key (and cache who it is)
            assert _fresh(server, "GET", "/api/wallet", headers={"X-API-Key": key}).status_code == 200
        rotated = _fresh(server, "POST", "/api/agents/me/rotate-key", headers={"X-API-Key": key})
        new_key = rotated.json()["data"]["api_key"]
        for _ in range(TRIES):
            assert _fresh(server, "GET", "/api/wallet", headers={"X-API-Key": key}).status_code == 401
            assert _fresh(server, "GET", "/api/wallet", headers={"X-API-Key": new_key}).status_code == 200


@pytest.mark.slow
def test_sigterm_drains_every_worker(tmp_path: Path) -> None:
    with server_process(tmp_path / "m.db", extra_args=WORKERS) as server:
        workers = server.workers()
        assert len(workers) == 2
        assert _register(server, "Someone").status_code == 201
        assert server.terminate() == 0
        for pid in workers:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert server.stderr().count(" stopped") == 2
