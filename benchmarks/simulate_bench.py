"""How fast ``agentmarket simulate`` runs, beside the floor the storage itself sets.

Four figures, measured in the same run on the same kind of database:

* floor: one task lifecycle (post with escrow, accept, complete with payout and fee,
  rate) as bare sqlite3 statements, one transaction per step, on a minimal schema;
* same-rows floor: the lifecycle as bare statements writing the rows the engine writes,
  on the engine's own schema (task with text and capability rows, escrow account and
  transfers, an event per step; its triggers keep balances, counters and the search index);
* engine: the same lifecycle through ``engine.Market`` methods;
* simulate: ``engine.simulation.run_simulation`` (strategies, releases, cancels, top-ups).

The first floor is not the same work: it writes about a third of the rows (no events, no
counters, no search index, no capability rows, fewer indexes). ``--replay`` records the
engine's and the simulation's own statements and replays them bare (``sql_replay.py``): the
most any change to the engine's Python could reach. Measured here (2 shared cores, CPU time,
10,000 tasks), the simulation's own SQL reaches 0.09-0.10 of the floor in memory and 0.17 on a
file, so issue 17's 0.5 and 0.3 are out of reach of every engine that writes these rows; the
same-rows floor is the fair measure of what the engine adds. Pass ``--cpu`` on a busy machine:
CPU time, not wall time, so that other processes' load hits the floors and the engine alike.

    python benchmarks/simulate_bench.py [--agents 200] [--tasks 20000] [--file] [--cpu] [--replay]
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
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import Market  # noqa: E402
from engine.simulation import Scenario, run_simulation, runner, sweep  # noqa: E402
from engine.simulation.simulator import Simulation  # noqa: E402

import sql_replay  # noqa: E402  (benchmarks/, beside this file)

#: What every figure is timed with (``--cpu``: CPU time).
_timer: Callable[[], float] = time.perf_counter

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

    started = _timer()
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
    seconds = _timer() - started
    conn.close()
    return count / seconds


# The engine's writes of one lifecycle, as bare statements on the engine's own schema (its
# triggers keep cached balances, counters and the search index, as they do for the engine).
# Accounts by their integer keys (storage/_accounts.py: wallet = agent rowid * 4, escrow = task
# rowid * 4 + 1, fees 2, issuance 3), named here as the engine names them.
_TRANSFER = (
    "INSERT INTO transfers (from_account, to_account, amount, kind, wallet, from_balance, to_balance, at)"
    " SELECT f.key, t.key, ?3, ?4, CASE 0 WHEN f.key % 4 THEN f.key / 4 WHEN t.key % 4 THEN t.key / 4 END,"
    " f.balance - ?3, t.balance + ?3, ?5 FROM accounts f, accounts t WHERE f.key = {source} AND t.key = {target}"
    " AND (f.key = 3 OR f.balance >= ?3)"
)
_EVENT = (
    "INSERT INTO events (type, task, agent, at, data) VALUES ((SELECT code FROM event_types WHERE name = ?1),"
    " ?2, (SELECT rowid FROM agents WHERE id = ?3), ?4, ?5)"
)
_TASK = (
    "INSERT INTO tasks (id, title, description, budget, required_capabilities, status, kind, poster_id,"
    " created_at, updated_at, deadline, claim_seconds, review_hours, due_at)"
    " VALUES (?, ?, ?, 10, '[\"x\"]', 'open', 'market', 'a', ?, ?, ?, 86400, 0, ?)"
)


def same_rows_floor_lifecycles_per_second(path: str, count: int) -> float:
    """Lifecycles per second as bare sqlite3 statements writing the rows the engine writes, on its schema.

    Post, accept, complete and rate, one transaction each, as the engine stores them: the
    task with its title, description and capability rows; an escrow account and balanced
    transfer rows; an event per step; the worker's completed count and rating. The schema's
    triggers then keep the cached balances, the counters and the search index, as for the
    engine. What the engine adds beyond this is its own (Python) work.
    """
    from sqlite_utils import Database

    from engine.storage._accounts import key_of
    from engine.storage.schema import migrate

    transfer = _TRANSFER.format(source=key_of("?1"), target=key_of("?2"))
    open_account = f"INSERT INTO accounts (key, balance) VALUES ({key_of('?1')}, 0)"

    conn = sqlite3.connect(path, isolation_level=None)
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(Database(conn))
    now, later = "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"
    at = 1767225600  # now, in the unix seconds transfers and events keep
    for agent in ("a", "b"):
        conn.execute("INSERT INTO agents (id, name, name_key, description, capabilities, owner_email, api_key_hash,"
                     " created_at) VALUES (?1, ?1, ?1, '', '[\"x\"]', ?1, ?1, ?2)", (agent, now))
        conn.execute("INSERT INTO agent_capabilities VALUES ('x', ?)", (agent,))
        conn.execute(open_account, (f"wallet:{agent}",))
    conn.executemany(open_account, [("platform:fees",), ("platform:issuance",)])
    conn.execute(transfer, ("platform:issuance", "wallet:a", 10**12, "grant", at))
    execute = conn.execute

    started = _timer()
    for n in range(count):
        task_id, escrow = f"t{n}", f"escrow:t{n}"
        execute("BEGIN IMMEDIATE")
        rowid = execute(_TASK, (task_id, "Summarize the Q3 sales figures", "Posted by Ada-1. Please be thorough.",
                                now, now, later, later)).lastrowid
        execute("INSERT INTO task_capabilities (capability, task_rowid, budget) VALUES ('x', ?, 10)", (rowid,))
        execute(open_account, (escrow,))
        execute(transfer, ("wallet:a", escrow, 10, "escrow", at))
        execute(_EVENT, ("task.posted", rowid, "a", at, None))  # its data is the task's (events_sql.DERIVED)
        execute("COMMIT")
        execute("BEGIN IMMEDIATE")
        execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        execute("UPDATE tasks SET status = 'assigned', assigned_to = 'b', claim_expires_at = ?, due_at = ?"
                " WHERE id = ?", (later, later, task_id))
        execute(_EVENT, ("task.assigned", rowid, "b", at, None))
        execute("COMMIT")
        execute("BEGIN IMMEDIATE")
        execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        execute(transfer, (escrow, "wallet:b", 9, "payout", at))
        execute(transfer, (escrow, "platform:fees", 1, "fee", at))
        execute("UPDATE agents SET total_tasks = total_tasks + 1 WHERE id = 'b'")
        execute("UPDATE tasks SET status = 'completed', result = 'done', claim_expires_at = NULL, due_at = NULL"
                " WHERE id = ?", (task_id,))
        execute(_EVENT, ("task.completed", rowid, "b", at, None))
        execute("COMMIT")
        execute("BEGIN IMMEDIATE")
        execute("UPDATE tasks SET rating = 5 WHERE id = ?", (task_id,))
        execute("UPDATE agents SET rating_sum = rating_sum + 5, rating_count = rating_count + 1 WHERE id = 'b'")
        execute(_EVENT, ("task.rated", rowid, "a", at, None))
        execute("COMMIT")
    seconds = _timer() - started
    conn.close()
    return count / seconds


def engine_lifecycles_per_second(path: str, count: int, mark: Callable[[], None] = lambda: None) -> float:
    """Lifecycles per second through ``Market`` methods (validation, state machine, events, ledger);
    ``mark`` is called as the timed part starts and ends."""
    numbers = itertools.count(1)
    with Market(path, new_id=lambda: f"00000000-0000-7000-8000-{next(numbers):012d}") as market:
        poster = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com").agent.id
        worker = market.register_agent(name="Worker", capabilities=["x"], owner_email="w@example.com").agent.id
        market.grant(poster, 10**9)
        mark()
        started = _timer()
        for _ in range(count):
            task = market.post_task(poster, title="Benchmark", budget=10, required_capabilities=["x"])
            market.accept_task(task.id, worker)
            market.complete_task(task.id, worker, "done")
            market.rate_task(task.id, poster, 5)
        seconds = _timer() - started
        mark()
        return count / seconds


def simulate_lifecycles_per_second(path: str, agents: int, tasks: int, seed: int,
                                   mark: Callable[[], None] = lambda: None) -> float:
    """Lifecycles per second of ``run_simulation``; ``mark`` is called as its timed part starts and ends."""
    run = Simulation.run

    def marked(simulation: Simulation, *args: Any, **kwargs: Any) -> None:
        mark()
        run(simulation, *args, **kwargs)
        mark()

    Simulation.run = marked  # type: ignore[method-assign]
    try:
        return run_simulation(agents, tasks, seed, path=path).lifecycles_per_second
    finally:
        Simulation.run = run  # type: ignore[method-assign]


def replayed(path: str, measure: Callable[[str, Callable[[], None]], float]) -> float:
    """Lifecycles per second of ``measure``'s timed part as its own SQL replayed bare on ``path``.

    ``measure(path, mark)`` runs first on a scratch store (memory, or a second file) with
    every statement recorded; the replay then runs the statements before its first mark
    untimed and those between its marks timed, on one connection: the same rows, indexes
    and triggers, with none of the engine's Python (see ``sql_replay``).
    """
    marks: list[tuple[int, float]] = []
    with sql_replay.recording() as calls:
        rate = measure(path if path == ":memory:" else path + ".recorded",
                       lambda: marks.append((len(calls), _timer())))
    (first, started), (last, ended) = marks
    conn = sqlite3.connect(path, isolation_level=None)
    sql_replay.replay(conn, calls[:first])
    seconds = sql_replay.replay(conn, calls[first:last], _timer)
    conn.close()
    return rate * (ended - started) / seconds  # the lifecycles the timed part ran, per second of replay


def _use_clock(clock: Callable[[], float]) -> None:
    """Time every figure, the simulation's own included, with ``clock``."""
    global _timer
    _timer = clock
    runner.time = SimpleNamespace(perf_counter=clock)  # type: ignore[attr-defined]  # what run_scenario reads


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
    parser.add_argument("--cpu", action="store_true", help="measure CPU time (steadier on a busy machine)")
    parser.add_argument("--replay", action="store_true",
                        help="also replay the engine's and the simulation's own SQL bare (see sql_replay.py)")
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
    if args.cpu:
        _use_clock(time.process_time)

    floor = _on(storage, lambda p: floor_lifecycles_per_second(p, lifecycles))
    same_rows = _on(storage, lambda p: same_rows_floor_lifecycles_per_second(p, lifecycles))
    engine = _on(storage, lambda p: engine_lifecycles_per_second(p, lifecycles))
    summary = _on(storage, lambda p: run_simulation(args.agents, args.tasks, args.seed, path=p))
    simulate = summary.lifecycles_per_second

    print(f"storage: {storage}; simulate --agents {args.agents} --tasks {args.tasks} --seed {args.seed}"
          f"{'; CPU time' if args.cpu else ''}")
    print(f"  floor (bare sqlite3 lifecycle) {floor:10,.0f} lifecycles/s")
    print(f"  same-rows floor (engine schema){same_rows:10,.0f} lifecycles/s   {same_rows / floor:5.0%} of floor")
    print(f"  engine (Market methods)        {engine:10,.0f} lifecycles/s   {engine / floor:5.0%} of floor,"
          f" {engine / same_rows:5.0%} of same-rows floor")
    print(f"  simulate                       {simulate:10,.0f} lifecycles/s   {simulate / floor:5.0%} of floor,"
          f" {simulate / same_rows:5.0%} of same-rows floor, {simulate / engine:5.0%} of engine")
    print(f"  ({summary.lifecycles} lifecycles in {summary.seconds:.1f} s; ledger "
          f"{'verifies' if summary.ledger_ok else 'DOES NOT VERIFY'})")
    if args.replay:
        engine_sql = _on(storage, lambda p: replayed(p, lambda q, mark: engine_lifecycles_per_second(q, lifecycles, mark)))
        simulate_sql = _on(storage, lambda p: replayed(
            p, lambda q, mark: simulate_lifecycles_per_second(q, args.agents, args.tasks, args.seed, mark)))
        print("  the engine's own statements replayed bare (its rows, indexes and triggers; none of its Python):")
        print(f"    engine's SQL                 {engine_sql:10,.0f} lifecycles/s   {engine_sql / floor:5.0%} of floor,"
              f" {engine_sql / same_rows:5.0%} of same-rows floor; engine {engine / engine_sql:5.0%} of it")
        print(f"    simulate's SQL               {simulate_sql:10,.0f} lifecycles/s   {simulate_sql / floor:5.0%} of floor,"
              f" {simulate_sql / same_rows:5.0%} of same-rows floor; simulate {simulate / simulate_sql:5.0%} of it")


if __name__ == "__main__":
    main()
