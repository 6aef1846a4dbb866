"""Latency from a commit to the event's arrival at a live-stream client (``GET /api/events/stream``).

Runs ``agentmarket serve`` in a child process on a fresh market file, listens to its
stream with httpx in a thread, and commits 1,000 task postings two ways, one every
``--gap`` seconds:

* through the API (``POST /api/tasks`` to the same server): the server's dispatcher wakes
  the streams after the write; latency is counted from *sending* the request, so it
  includes the request itself (an upper bound on commit-to-arrival);
* by another process (this one, writing the market file with ``Market.post_task``): the
  server notices through ``PRAGMA data_version``, looked at every 0.25 s; latency is
  counted from the moment the commit returned.

Prints p50, p99 and max per way.

    python benchmarks/live_stream_bench.py [--events 1000] [--gap 0.01]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Market  # noqa: E402
from tests.support.server import server_process  # noqa: E402


class Listener:
    """Reads the stream in a thread and notes when each task's ``task.posted`` arrives."""

    def __init__(self, url: str) -> None:
        self.arrived: dict[str, float] = {}
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the stream did not open")

    def _run(self, url: str) -> None:
        with httpx.stream("GET", f"{url}/api/events/stream", params={"types": "task.posted"}, timeout=60) as stream:
            for line in stream.iter_lines():
                self._ready.set()
                if line.startswith("data: "):
                    self.arrived[json.loads(line[6:])["task_id"]] = time.perf_counter()

    def wait_for(self, ids: list[str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(i in self.arrived for i in ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{sum(i not in self.arrived for i in ids)} events never arrived")
            time.sleep(0.01)


def measure(listener: Listener, post: Callable[[int], tuple[str, float]], events: int, gap: float) -> list[float]:
    """Post ``events`` tasks ``gap`` seconds apart; the latency of each, in ms."""
    started: dict[str, float] = {}
    for n in range(events):
        task_id, at = post(n)
        started[task_id] = at
        time.sleep(gap)
    listener.wait_for(list(started))
    return [(listener.arrived[task_id] - at) * 1000 for task_id, at in started.items()]


def report(name: str, latencies: list[float]) -> None:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(f"{name:<34} n={len(latencies):>5}  p50 {cuts[49]:7.1f} ms  p99 {cuts[98]:7.1f} ms  "
          f"max {max(latencies):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--gap", type=float, default=0.01, help="seconds between two commits")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "market.db"
        market = Market(db)
        with server_process(db) as served:
            registered = httpx.post(f"{served.url}/api/agents/register", json={
                "name": "Bench", "capabilities": ["bench"], "owner_email": "bench@example.com"}).json()["data"]
            key, poster = registered["api_key"], registered["id"]
            listener = Listener(served.url)
            with httpx.Client(base_url=served.url, headers={"X-API-Key": key}) as api:

                def through_api(n: int) -> tuple[str, float]:
                    at = time.perf_counter()
                    task_id = api.post("/api/tasks", json={"title": f"api {n}", "budget": 1}).json()["data"]["id"]
                    api.post(f"/api/tasks/{task_id}/cancel")  # the credit comes back
                    return task_id, at

                def by_another_process(n: int) -> tuple[str, float]:
                    task = market.post_task(poster, title=f"direct {n}", budget=1)
                    at = time.perf_counter()
                    market.cancel_task(task.id, poster)
                    return task.id, at

                report("API write -> stream (same server)", measure(listener, through_api, args.events, args.gap))
                report("another process's commit -> stream", measure(listener, by_another_process, args.events,
                                                                      args.gap))
        market.close()


if __name__ == "__main__":
    main()
