"""The market on PostgreSQL (SPEC §13): engine lifecycles per second and HTTP ``POST /api/tasks``
with 1, 2 and 3 ``agentmarket serve`` nodes on one server, beside pgbench's own
``simple-update`` figure on the same server as the floor.

* pgbench simple-update: per transaction one UPDATE, one SELECT and one INSERT, the
  smallest write transaction PostgreSQL's own benchmark makes (``pgbench -b simple-update``,
  scale 1, ``--clients`` clients);
* engine lifecycles/s: post (budget escrowed) + accept + complete through ``engine.Market``
  in one thread, three write transactions each;
* HTTP posts/s with N nodes: ``--clients`` client threads spread over N ``serve``
  processes (each with its pool and its webhook worker) posting tasks, each a write
  transaction; every node takes the market's write lock in turn;
* webhook deliveries/s with 1 and 3 nodes: ``--deliveries`` deliveries queued at once (one
  batch of posts telling 20 agents, whose webhooks point at 4 local HTTPS receiver processes),
  timed until every one is delivered; every node claims (FOR UPDATE SKIP LOCKED). Once with
  receivers answering at once (CPU-bound: more nodes on one machine add no CPU), once answering
  after 100 ms, as receivers across a network do (bound by the attempts in flight: a node runs
  2 per receiver, so more nodes send more at once).

    python benchmarks/pg_bench.py [--url postgresql://...] [--lifecycles 300] [--posts 600] [--clients 8]
                                  [--deliveries 1000]

Without ``--url`` (or ``AGENTMARKET_BENCH_PG_URL``/``AGENTMARKET_TEST_PG_URL``) a throwaway
server is started with Debian's initdb/pg_ctl (``fsync=off``, as the tests run it); each
measure gets a fresh database on it, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import trustme  # noqa: E402

from benchmarks.webhook_bench import receiver_process  # noqa: E402
from engine import Market  # noqa: E402
from tests.support.postgres import _bindir, fresh_database, throwaway_server  # noqa: E402
from tests.support.server import server_process  # noqa: E402


@contextmanager
def server(url: str | None) -> Iterator[str]:
    url = url or os.environ.get("AGENTMARKET_BENCH_PG_URL") or os.environ.get("AGENTMARKET_TEST_PG_URL")
    if url:
        yield url
    else:
        with throwaway_server() as started:
            yield started


def pgbench(server_url: str, clients: int, seconds: int) -> float:
    """pgbench's simple-update transactions per second on a fresh scale-1 database."""
    bindir = _bindir()
    if bindir is None:
        raise SystemExit("pgbench was not found under /usr/lib/postgresql")
    with fresh_database(server_url) as db:
        subprocess.run([str(bindir / "pgbench"), "-i", "-s", "1", "-q", db], check=True, capture_output=True)
        done = subprocess.run([str(bindir / "pgbench"), "-b", "simple-update", "-c", str(clients),
                               "-j", str(min(clients, 2)), "-T", str(seconds), db],
                              check=True, capture_output=True, text=True)
    found = re.search(r"tps = ([\d.]+)", done.stdout)
    if found is None:
        raise SystemExit(f"pgbench said: {done.stdout}{done.stderr}")
    return float(found.group(1))


def lifecycles(server_url: str, count: int) -> float:
    """Engine lifecycles (post + accept + complete) per second, one thread."""
    with fresh_database(server_url) as db, Market(db) as market:
        poster = market.register_agent(name="Poster", capabilities=["research"], owner_email="p@example.com").agent.id
        worker = market.register_agent(name="Worker", capabilities=["research"], owner_email="w@example.com").agent.id
        market.grant(poster, 10 * count, "benchmark")
        started = time.perf_counter()
        for n in range(count):
            task = market.post_task(poster, title=f"Task {n}", budget=10, required_capabilities=["research"])
            market.accept_task(task.id, worker)
            market.complete_task(task.id, worker, "done")
        elapsed = time.perf_counter() - started
        assert market.verify_ledger().ok
    return count / elapsed


def http_posts(server_url: str, nodes: int, posts: int, clients: int) -> float:
    """``POST /api/tasks`` per second from ``clients`` threads spread over ``nodes`` serve processes."""
    with fresh_database(server_url) as db, ExitStack() as stack:
        with Market(db) as market:
            registration = market.register_agent(name="Poster", capabilities=["research"],
                                                 owner_email="p@example.com")
            market.grant(registration.agent.id, 10 * posts, "benchmark")
        urls = [stack.enter_context(server_process(db)).url for _ in range(nodes)]
        headers = {"X-API-Key": registration.api_key}
        share = [posts // clients + (1 if i < posts % clients else 0) for i in range(clients)]
        failures: list[int] = []
        barrier = threading.Barrier(clients + 1)

        def client(i: int) -> None:
            with httpx.Client(base_url=urls[i % nodes], headers=headers, timeout=60) as http:
                http.get("/api/health")  # connected before the clock starts
                barrier.wait()
                for n in range(share[i]):
                    answer = http.post("/api/tasks", json={"title": f"Post {i}-{n}", "budget": 10})
                    if answer.status_code != 201:
                        failures.append(answer.status_code)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise SystemExit(f"{len(failures)} posts failed: {sorted(set(failures))}")
        with Market(db) as market:
            assert market.verify_ledger().ok and market.count_tasks() == posts
    return posts / elapsed


def webhook_deliveries(server_url: str, nodes: int, deliveries: int, delay: float = 0.0, agents: int = 20,
                       receivers: int = 4) -> float:
    """Webhook deliveries per second by ``nodes`` serve processes, from a backlog queued at once,
    to receivers answering after ``delay`` seconds."""
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(tls)
    tasks = max(1, deliveries // agents)
    with ExitStack() as stack:
        bundle = stack.enter_context(ca.cert_pem.tempfile())
        os.environ["SSL_CERT_FILE"] = bundle  # the nodes inherit it: they trust the receivers
        hooks = [stack.enter_context(receiver_process(tls, delay=delay)) for _ in range(receivers)]
        db = stack.enter_context(fresh_database(server_url))
        with Market(db) as market:
            market.allow_private_urls = True
            poster = market.register_agent(name="Poster", capabilities=["none"], owner_email="p@example.com").agent.id
            market.grant(poster, tasks, "benchmark")
            for n in range(agents):
                market.register_agent(name=f"Agent {n}", capabilities=["bench"], owner_email=f"a{n}@example.com",
                                      webhook_url=f"{hooks[n % receivers]}/{n}")
        for _ in range(nodes):
            stack.enter_context(server_process(db))
        with Market(db) as market:
            with market.batch():  # every delivery queued in one commit
                for n in range(tasks):
                    market.post_task(poster, title=f"Task {n}", budget=1, required_capabilities=["bench"])
            started = time.perf_counter()
            wanted = tasks * agents
            while _delivered(market) < wanted:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
    return wanted / elapsed


def _delivered(market: Market) -> int:
    with market.context.store.read() as tx:
        return tx.conn.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a PostgreSQL server's maintenance database URL")
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--deliveries", type=int, default=1000, help="0 skips the webhook measures")
    args = parser.parse_args()
    with server(args.url) as url:
        floor = pgbench(url, args.clients, args.pgbench_seconds)
        rows = [(f"pgbench simple-update ({args.clients} clients)", floor, "transactions")]
        rows.append(("engine lifecycles, 1 thread", lifecycles(url, args.lifecycles), "lifecycles (3 tx each)"))
        for nodes in (1, 2, 3):
            rows.append((f"HTTP POST /api/tasks, {nodes} node{'s' * (nodes > 1)}",
                         http_posts(url, nodes, args.posts, args.clients), "posts (1 tx each)"))
        for delay, nodes in [(d, n) for d in (0.0, 0.1) for n in (1, 3)] if args.deliveries else ():
            rows.append((f"webhook deliveries, {nodes} node{'s' * (nodes > 1)}, receiver {delay * 1000:.0f} ms",
                         webhook_deliveries(url, nodes, args.deliveries, delay), "deliveries (HTTPS, 2 tx each)"))
    print(f"{'measure':<42} {'per second':>11} {'/ pgbench':>10}  unit")
    for name, rate, unit in rows:
        print(f"{name:<42} {rate:>11,.0f} {rate / floor:>10.3f}  {unit}")


if __name__ == "__main__":
    main()
