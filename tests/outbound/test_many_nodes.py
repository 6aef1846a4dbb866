"""Webhooks from three `agentmarket serve` processes on one PostgreSQL market (SPEC §13): one
node delivers at a time under the shared lease; when it is killed mid-delivery another takes
over, and the receiver gets every delivery, none twice but the one cut off in flight."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import ExitStack

import httpx
import pytest

from engine import Market
from tests.support.server import server_process
from tests.support.stores import raw_connection

from .servers import Received, Reply, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
POSTS = 12


def test_a_node_killed_mid_delivery_loses_no_webhook_and_sends_none_twice(market_database, receiver) -> None:
    counts: Counter[str] = Counter()
    held: list[str] = []
    lock = threading.Lock()

    def respond(request: Received) -> Reply:
        delivery_id = request.headers["X-AgentMarket-Delivery"]
        with lock:
            counts[delivery_id] += 1
            hold = not held and sum(counts.values()) == 4  # the 4th delivery hangs: its node is mid-delivery
            if hold:
                held.append(delivery_id)
        if hold:
            hooks.release.wait(120)
        return Reply(200)

    hooks = receiver(respond)
    Market(market_database).close()
    with ExitStack() as stack, httpx.Client(timeout=30) as http:
        env = {"AGENTMARKET_WEBHOOK_BACKOFF": "0.05"}
        servers = [stack.enter_context(server_process(market_database, env=env)) for _ in range(3)]
        stack.callback(hooks.release.set)
        urls = [s.url for s in servers]

        def register(url: str, name: str, **fields: object) -> dict:
            answer = http.post(f"{url}/api/agents/register", json={
                "name": name, "capabilities": ["coding"], "owner_email": f"{name.lower()}@example.com", **fields})
            assert answer.status_code == 201, answer.text
            return answer.json()["data"]

        listener = register(urls[0], "Listener", webhook_url=f"{hooks.url}/hook")
        poster = register(urls[1], "Poster")["api_key"]
        for n in range(POSTS):  # each post queues one task.posted delivery for the listener
            assert http.post(f"{urls[n % 3]}/api/tasks", headers={"X-API-Key": poster},
                             json={"title": f"Hear {n}", "budget": 1, "required_capabilities": ["coding"]}
                             ).status_code == 201
        wait_until(lambda: held, timeout=60)

        conn = raw_connection(market_database)
        holder = conn.execute("SELECT holder FROM worker_leases WHERE name = 'webhooks'").fetchone()[0]
        conn.close()
        pid = int(holder.split(":")[1])
        (delivering,) = [s for s in servers if s.process.pid == pid]
        delivering.kill()  # SIGKILL while its attempt hangs at the receiver
        assert delivering.process.poll() is not None

        with Market(market_database) as market:
            wait_until(lambda: len(counts) == POSTS and all(
                d.status == "delivered" for d in market.webhook_deliveries(listener["id"])), timeout=90)
            deliveries = market.webhook_deliveries(listener["id"])
    assert {d.id for d in deliveries} == set(counts)  # none lost
    assert len(deliveries) == POSTS
    twice = {delivery_id for delivery_id, n in counts.items() if n > 1}
    assert twice <= set(held), counts  # only the attempt the kill cut off was sent again
    assert all(n <= 2 for n in counts.values())
