"""A process that queues a webhook event and starts delivering it, for the kill -9 test.

Usage: python -m tests.outbound.worker_process MARKET_FILE POSTER_ID CAPABILITY
Prints "delivering" once its worker holds the lease, then runs until killed.
"""

from __future__ import annotations

import sys
import time

from engine import Market
from engine.outbound import DeliveryWorker


def main(path: str, poster_id: str, capability: str) -> None:
    market = Market(path, allow_private_urls=True)  # the receiver is on loopback
    market.post_task(poster_id, title="Queued before the crash", budget=5, required_capabilities=[capability])
    worker = DeliveryWorker(market, timeout=30.0, lease_seconds=1.0, claim_seconds=1.0, poll_interval=0.02).start()
    while not worker.is_leader:
        time.sleep(0.02)
    print("delivering", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(*sys.argv[1:4])
