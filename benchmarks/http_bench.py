"""Requests per second of ``GET /api/tasks?status=open&limit=20`` beside a do-nothing server.

Both servers run as their own processes on loopback: ``agentmarket serve`` on a market
with open tasks (access log on, as deployed), and a bare ``http.server`` handler
(HTTP/1.1, TCP_NODELAY, threads) that answers every GET with the same JSON bytes
our server returned. A load generator of client processes, each with one persistent
keep-alive ``http.client`` connection, counts completed requests for a fixed time.
Prints ours, the baseline, and the ratio (target: at least 0.4).

    python benchmarks/http_bench.py [--clients 4] [--seconds 2] [--rounds 3] [--tasks 200]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Market  # noqa: E402
from tests.support.server import server_process  # noqa: E402

PATH = "/api/tasks?status=open&limit=20"


def seed_market(path: Path, tasks: int) -> None:
    """A market with ``tasks`` open tasks (and some others) from a few posters."""
    with Market(path) as market:
        posters = [market.register_agent(name=f"Poster {n}", capabilities=["coding"],
                                         owner_email=f"p{n}@example.com").agent.id for n in range(5)]
        worker = market.register_agent(name="Worker", capabilities=["coding"], owner_email="w@example.com").agent.id
        for poster in posters:
            market.grant(poster, tasks * 10)
        for n in range(tasks + tasks // 4):
            task = market.post_task(posters[n % 5], title=f"Task number {n}", description="Do the thing " * 10,
                                    budget=1 + n % 50, required_capabilities=["coding"])
            if n % 5 == 0:
                market.accept_task(task.id, worker)


def _baseline(body: bytes, port_out: Connection) -> None:
    class FixedAnswer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FixedAnswer)
    server.daemon_threads = True
    port_out.send(server.server_address[1])
    server.serve_forever()


def _client(port: int, seconds: float, start_at: float, count_out: Connection) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = 0
    while time.time() < start_at:
        time.sleep(0.001)
    stop_at = start_at + seconds
    while time.time() < stop_at:
        connection.request("GET", PATH)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        done += 1
    connection.close()
    count_out.send(done)


def requests_per_second(port: int, clients: int, seconds: float) -> float:
    """Total completed requests per second of ``clients`` keep-alive connections."""
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 0.5
    pipes, processes = [], []
    for _ in range(clients):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_client, args=(port, seconds, start_at, send))
        process.start()
        pipes.append(receive)
        processes.append(process)
    total = sum(pipe.recv() for pipe in pipes)
    for process in processes:
        process.join()
    return total / seconds


@contextmanager
def ours_running(db: Path, *, cache: bool) -> Iterator[int]:
    """``agentmarket serve`` on ``db`` (cache on or off); yields its port."""
    env = {} if cache else {"AGENTMARKET_RESPONSE_CACHE": "0"}
    with server_process(db, allow_private_urls=False, env=env) as served:
        yield int(served.url.rsplit(":", 1)[1])


@contextmanager
def baseline_running(body: bytes) -> Iterator[int]:
    """The do-nothing server answering ``body``; yields its port."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_baseline, args=(body, send), daemon=True)
    process.start()
    try:
        yield receive.recv()
    finally:
        process.terminate()
        process.join()


def fetch(port: int) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", PATH)
    body = connection.getresponse().read()
    connection.close()
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="Alternate the servers this often; medians count.")
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        db = Path(tmp) / "bench.db"
        seed_market(db, args.tasks)
        ports = {"ours": servers.enter_context(ours_running(db, cache=True)),
                 "uncached": servers.enter_context(ours_running(db, cache=False))}
        body = fetch(ports["ours"])
        ports["baseline"] = servers.enter_context(baseline_running(body))
        runs: dict[str, list[float]] = {name: [] for name in ports}
        for port in ports.values():
            requests_per_second(port, 1, 0.5)  # warm up: threads and their connections
        # Interleaved rounds, so a busy moment of the machine does not favour one server.
        for _ in range(args.rounds):
            for name, port in ports.items():
                runs[name].append(requests_per_second(port, args.clients, args.seconds))
    ours, uncached, baseline = (statistics.median(runs[n]) for n in ("ours", "uncached", "baseline"))

    print(f"GET {PATH}: {len(body):,} bytes, {args.clients} keep-alive clients, "
          f"median of {args.rounds} rounds of {args.seconds:g} s")
    print(f"agentmarket serve : {ours:9,.0f} requests/s  (default: anonymous GETs cached while unchanged)")
    print(f"  without cache   : {uncached:9,.0f} requests/s  (AGENTMARKET_RESPONSE_CACHE=0: every request "
          "queries SQLite)")
    print(f"do-nothing server : {baseline:9,.0f} requests/s")
    print(f"ratio             : {ours / baseline:9.2f}  (target >= 0.40); without cache {uncached / baseline:.2f}")


if __name__ == "__main__":
    main()
