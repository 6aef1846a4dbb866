"""Deliveries are rows: they outlive a worker killed with SIGKILL mid-delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Market

from .servers import Reply, wait_until

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_an_event_queued_before_a_kill_9_is_delivered_after_restart(market_path, receiver, start_worker):
    hooks = receiver(lambda r: Reply(200, delay=60) if len(hooks.received()) == 1 else Reply(200))
    with Market(market_path) as market:
        market.allow_private_urls = True
        poster = market.register_agent(name="Poster", capabilities=["coding"], owner_email="p@example.com").agent.id
        agent = market.register_agent(name="Worker", capabilities=["coding"], owner_email="w@example.com",
                                      webhook_url=hooks.url + "/hook").agent.id

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.outbound.worker_process", str(market_path), poster, "coding"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout.readline().strip() == "delivering"
        wait_until(lambda: len(hooks.received()) == 1)  # the first attempt hangs: the worker is mid-delivery
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
        process.stdout.close()

    with Market(market_path, allow_private_urls=True) as restarted:
        worker = start_worker(restarted)  # takes over once the dead worker's lease and claim run out
        wait_until(lambda: restarted.webhook_deliveries(agent)[0].status == "delivered")
        (delivery,) = restarted.webhook_deliveries(agent)
        worker.stop()

    first, second = hooks.received()
    assert first.headers["X-AgentMarket-Delivery"] == second.headers["X-AgentMarket-Delivery"] == delivery.id
    assert first.body == second.body
    assert delivery.attempts == 2  # the attempt the crash cut off counts
