"""How fast the delivery worker empties the webhook outbox, and whether a hanging
receiver slows the others.

Posts tasks that notify N agents whose webhooks point at a local HTTPS receiver
(a throwaway trustme CA, trusted through SSL_CERT_FILE), then times a DeliveryWorker
until every delivery is settled. Figures, in one run:

* healthy: deliveries per second when every receiver answers 200 at once;
* with a hanging agent: the same, while one more agent's receiver never answers
  (its deliveries time out); the ratio to the healthy run shows what it costs the others.

    python benchmarks/webhook_bench.py [--agents 20] [--tasks 50] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import ssl
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

import trustme

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Market  # noqa: E402
from engine.outbound import DeliveryWorker  # noqa: E402
from tests.outbound.servers import LoopbackServer, Reply  # noqa: E402


def healthy_deliveries_per_second(path: Path, hooks: str, stuck: str | None,
                                  agents: int, tasks: int, concurrency: int) -> tuple[float, int]:
    """Deliveries to healthy agents per second, and how many were delivered."""
    with Market(path) as market:
        market.allow_private_urls = True
        poster = market.register_agent(name="Poster", capabilities=["none"], owner_email="p@example.com").agent.id
        market.grant(poster, tasks * 10)
        healthy = [market.register_agent(name=f"Agent {n}", capabilities=["bench"], owner_email=f"a{n}@example.com",
                                         webhook_url=f"{hooks}/{n}").agent.id for n in range(agents)]
        if stuck is not None:
            market.register_agent(name="Stuck", capabilities=["bench"], owner_email="s@example.com",
                                  webhook_url=stuck + "/hook")
        for n in range(tasks):
            market.post_task(poster, title=f"Task {n}", budget=1, required_capabilities=["bench"])
        wanted = agents * tasks
        started = time.perf_counter()
        with DeliveryWorker(market, concurrency=concurrency, timeout=1.0, poll_interval=0.01):
            while sum(d.status == "delivered" for a in healthy for d in market.webhook_deliveries(a, 100)) < wanted:
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
    return wanted / elapsed, wanted


def _serve(tls: ssl.SSLContext, hang: bool, delay: float, urls: Connection) -> None:
    responder = (lambda _: Reply(200, delay=60 if hang else delay)) if hang or delay else None
    with LoopbackServer(responder, tls=tls, host_name="localhost") as server:
        urls.send(server.url)
        urls.recv()  # until the parent is done


@contextmanager
def receiver_process(tls: ssl.SSLContext, *, hang: bool = False, delay: float = 0.0) -> Iterator[str]:
    """An HTTPS receiver in its own process (so it does not compete for this one's GIL), answering
    after ``delay`` seconds (never, with ``hang``); yields its URL."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(tls, hang, delay, child), daemon=True)
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(5)
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=50, help="at most 100 (the delivery list's page)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_tls)
    with tempfile.TemporaryDirectory() as scratch, ca.cert_pem.tempfile() as bundle:
        os.environ["SSL_CERT_FILE"] = bundle
        with receiver_process(server_tls) as hooks, receiver_process(server_tls, hang=True) as stuck:
            healthy, count = healthy_deliveries_per_second(Path(scratch, "a.db"), hooks, None, args.agents,
                                                           args.tasks, args.concurrency)
            hampered, _ = healthy_deliveries_per_second(Path(scratch, "b.db"), hooks, stuck, args.agents,
                                                        args.tasks, args.concurrency)
    print(f"{count} deliveries over HTTPS, {args.concurrency} senders")
    print(f"  healthy receivers:            {healthy:8.0f} deliveries/s")
    print(f"  plus one hanging receiver:    {hampered:8.0f} deliveries/s to the others"
          f" ({hampered / healthy:.2f}x)")


if __name__ == "__main__":
    main()
