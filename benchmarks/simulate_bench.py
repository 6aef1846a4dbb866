"""How fast ``agentmarket simulate`` runs, beside the floor the storage itself sets.

Three figures, measured in the same run on the same kind of database:

* floor: one task lifecycle (post with escrow, accept, complete with payout and fee,
  rate) as bare sqlite3 statements, one transaction per step, as the engine does;
* engine: the same lifecycle through ``engine.Market`` methods;
* simulate: ``engine.simulation.run_simulation`` (strategies, releases, cancels, top-ups).

    python benchmarks/simulate_bench.py [--agents 200] [--tasks 20000] [--file]
    python benchmarks/simulate_bench.py --sweep   # the issue's done-when sweep, timed

``--sweep`` times ``agentmarket simulate sweep --param fee_percent=5,10,15 --param
flaky_share=0,0.2 --param tasks=2000 --seeds 5`` (30 runs on every core; CI's budget: a minute).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Market  # noqa: E402
from engine.simulation import Scenario, run_simulation, sweep  # noqa: E402

_FLOOR_SCHEMA = """
CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE transfers (id INTEGER PRIMARY KEY, from_account TEXT, to_account TEXT, amount INTEGER,
                        task_id TEXT, created_at TEXT);
CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT, budget INTEGER, poster_id TEXT, assigned_to TEXT,
                    rating INTEGER, created_at TEXT);
CREATE TABLE agents (id TEXT PRIMARY KEY, rating_sum INTEGER DEFAULT 0, rating_count INTEGER DEFAULT 0);
"""


def floor_lifecycles_per_second(path: str, count: int) -> float:
    """Lifecycles per second as bare sqlite3 statements: what no engine on this storage can beat."""
    conn = sqlite3.connect(path, isolation_level=None)
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(_FLOOR_SCHEMA)
    conn.executemany("INSERT INTO accounts VALUES (?, ?)", [("wallet:a", 10**12), ("wallet:b", 0), ("fees", 0)])
    conn.executemany("INSERT INTO agents (id) VALUES (?)", [("a",), ("b",)])
    now = "2026-01-01T00:00:00Z"

    def move(source: str, target: str, amount: int, task_id: str) -> None:
        conn.execute("UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?", (amount, source, amount))
        conn.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, target))
        conn.execute("INSERT INTO transfers (from_account, to_account, amount, task_id, created_at)"
                     " VALUES (?, ?, ?, ?, ?)", (source, target, amount, task_id, now))

    started = time.perf_counter()
    for n in range(count):
        task_id, escrow = f"t{n}", f"escrow:t{n}"
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO accounts VALUES (?, 0)", (escrow,))
        move("wallet:a", escrow, 10, task_id)
        conn.execute("INSERT INTO tasks VALUES (?, 'open', 10, 'a', NULL, NULL, ?)", (task_id, now))
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        conn.execute("UPDATE tasks SET status = 'assigned', assigned_to = 'b' WHERE id = ?", (task_id,))
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        move(escrow, "wallet:b", 9, task_id)
        move(escrow, "fees", 1, task_id)
        conn.execute("UPDATE tasks SET status = 'completed' WHERE id = ?", (task_id,))
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE tasks SET rating = 5 WHERE id = ?", (task_id,))
        conn.execute("UPDATE agents SET rating_sum = rating_sum + 5, rating_count = rating_count + 1 WHERE id = 'b'")
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return count / seconds


def engine_lifecycles_per_second(path: str, count: int) -> float:
    """Lifecycles per second through ``Market`` methods (validation, state machine, events, ledger)."""
    numbers = itertools.count(1)
    with Market(path, new_id=lambda: f"00000000-0000-7000-8000-{next(numbers):012d}") as market:
        poster = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com").agent.id
        worker = market.register_agent(name="Worker", capabilities=["x"], owner_email="w@example.com").agent.id
        market.grant(poster, 10**9)
        started = time.perf_counter()
        for _ in range(count):
            task = market.post_task(poster, title="Benchmark", budget=10, required_capabilities=["x"])
            market.accept_task(task.id, worker)
            market.complete_task(task.id, worker, "done")
            market.rate_task(task.id, poster, 5)
        return count / (time.perf_counter() - started)


def _on(storage: str, measure: Callable[[str], float]) -> float:
    if storage == ":memory:":
        return measure(":memory:")
    with tempfile.TemporaryDirectory() as directory:
        return measure(os.path.join(directory, "bench.db"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--file", action="store_true", help="a market file (WAL) instead of :memory:")
    parser.add_argument("--sweep", action="store_true", help="time the done-when sweep instead")
    args = parser.parse_args()
    if args.sweep:
        started = time.perf_counter()
        result = sweep({"fee_percent": [5, 10, 15], "flaky_share": [0, 0.2]}, 5, base=Scenario(tasks=2000))
        seconds = time.perf_counter() - started
        ok = all(r["measures"]["ledger_ok"] for r in result.records)
        print(f"sweep: {len(result.records)} runs of 2,000 tasks on {os.cpu_count()} cores in {seconds:.1f} s; "
              f"ledger {'verifies' if ok else 'DOES NOT VERIFY'} in every run")
        return
    storage = "file" if args.file else ":memory:"
    lifecycles = max(1000, args.tasks // 5)

    floor = _on(storage, lambda p: floor_lifecycles_per_second(p, lifecycles))
    engine = _on(storage, lambda p: engine_lifecycles_per_second(p, lifecycles))
    summary = _on(storage, lambda p: run_simulation(args.agents, args.tasks, args.seed, path=p))
    simulate = summary.lifecycles_per_second

    print(f"storage: {storage}; simulate --agents {args.agents} --tasks {args.tasks} --seed {args.seed}")
    print(f"  floor (bare sqlite3 lifecycle) {floor:10,.0f} lifecycles/s")
    print(f"  engine (Market methods)        {engine:10,.0f} lifecycles/s   {engine / floor:5.0%} of floor")
    print(f"  simulate                       {simulate:10,.0f} lifecycles/s   {simulate / floor:5.0%} of floor,"
          f" {simulate / engine:5.0%} of engine")
    print(f"  ({summary.lifecycles} lifecycles in {summary.seconds:.1f} s; ledger "
          f"{'verifies' if summary.ledger_ok else 'DOES NOT VERIFY'})")


if __name__ == "__main__":
    main()
