"""``agentmarket serve --workers 2``: when the worker holding the webhook delivery lease is
killed, it is replaced and, once its lease has run out, another worker delivers."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from engine import Market
from tests.support.server import ServerProcess, server_process

from .servers import wait_until

pytestmark = pytest.mark.slow


def _lease_holder(db: Path) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        row = connection.execute("SELECT holder FROM worker_leases WHERE name = 'webhooks'").fetchone()
    return row[0] if row else None


def _holder_pid(holder: str) -> int:
    return int(holder.split(":")[1])  # "host:pid:nonce"


def _post(server: ServerProcess, api_key: str, title: str) -> int:
    return httpx.post(f"{server.url}/api/tasks", headers={"X-API-Key": api_key}, timeout=30,
                      json={"title": title, "budget": 1, "required_capabilities": ["coding"]}).status_code


def test_the_lease_holders_death_hands_deliveries_to_another_worker(tmp_path: Path, receiver) -> None:
    db = tmp_path / "m.db"
    hooks = receiver()
    with Market(db, allow_private_urls=True) as market:
        market.register_agent(name="Listener", capabilities=["coding"], owner_email="l@example.com",
                              webhook_url=f"{hooks.url}/hook")
        poster = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com").api_key
    with server_process(db, extra_args=("--workers", "2")) as server:
        assert _post(server, poster, "Heard first") == 201
        wait_until(lambda: len(hooks.requests) == 1, timeout=60)
        first = wait_until(lambda: _lease_holder(db), timeout=30)
        leader = _holder_pid(first)
        survivor = next(pid for pid in server.workers() if pid != leader)
        os.kill(leader, signal.SIGKILL)
        replacement = server.replacement(survivor, starts=3)
        assert _post(server, poster, "Heard after the kill") == 201
        wait_until(lambda: len(hooks.requests) == 2, timeout=60)  # once the dead holder's lease ran out
        second = _lease_holder(db)
        assert second != first and _holder_pid(second) in (survivor, replacement)
        assert server.terminate() == 0
