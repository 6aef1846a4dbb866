"""Lists, stats, search and the ledger check at two market sizes (SPEC §12), through the engine.

Builds each market through ``engine.Market``'s real operations (register, grant, post; of
the tasks, about 6 in 10 are then accepted, completed and rated, 1 in 10 cancelled, the
rest left open), then times every documented list request on its first page and on a page
``--depth`` rows deep reached by cursor, ``stats``, a search with and without matches,
``verify_ledger`` and ``verify_counters``. Prints p50/p99 per request at each size and the
ratio of the large market's p50 to the small one's, the build rate and the file size.

    python benchmarks/scale_bench.py [--sizes 10000 1000000] [--shapes settled open] [--repeat 50]
        [--depth 10000] [--dir DIR] [--no-build] [--http | --http-only]
    python benchmarks/scale_bench.py --triggers 2000   # write cost of the counter and search triggers
    python benchmarks/scale_bench.py --checks-only --no-build --repeat 5   # only the two checks

Markets are built once into ``--dir`` (default ``$TMPDIR/agentmarket-scale``) and reused by
later runs; a stopped build resumes where it stopped. The two sizes' lists are timed round robin,
one call on each market in turn, and the HTTP requests likewise, so a burst of load on the shared
machine falls on both sides of every ratio.

How long a build takes here (2 cores shared by several people): 1 M tasks, settled shape, 2,838 s
(47 minutes, 352 tasks/s, load 5-11); open shape 2,381 s (40 minutes, 420 tasks/s); both on schema
18, then migrated (20-23 took 136 s under load and 61 s / 44 s quiet; 24, the status in the
capability rows and one FTS5 merge, 54 s each; 25 no time; 26, the search indexes rebuilt in small
pages, 26 s and 29 s). On the quiet machine 10 k settled builds at 1,045 tasks/s (10 s) and 10 k
open at 2,074 tasks/s (5 s). ``--shapes completed`` measures bytes per lifecycle: 1,015 B at 10 k,
fixed pages included (about 28 of them); from 10 k to 20 k each lifecycle added 992 B.

The run of record (issue 13), ``--sizes 10000 1000000 --shapes settled open --http --repeat 100``
on those markets (schema 26), load under 0.6, p50/p99 ms, 10 k -> 1 M, ratio of p50s:

- files: settled 1,376 B/task (free pages left by the migrations), 983 B/task in tables and
  indexes; open 1,136 and 868.
- every task list, page 1 and 10,000 deep by cursor (on the 10 k market, a list shorter than that
  is read at its deepest full page): p50 0.06-0.50 ms at 1 M, p99 0.14-0.97 ms; ratios 0.96-1.06
  (status=open capability=research 0.06/0.17, 1.00; budget orders deep 0.22-0.27, 1.00-1.04;
  q=parser 0.47/0.64, 1.03, deep 0.37/0.81, 0.96; q=parser status=open 0.44/0.60, deep 0.50/0.97,
  1.05; "my tasks" 0.44/0.71, 1.01). Agents 0.24-0.31 (1.00-1.01). Wallet transactions page 1
  0.22 (1.02), 10,000 deep 0.24 (1.02). A burst of load lands on both sizes of a row (the calls
  alternate) and lifts its p50s, not its ratio: q=parser page 1 was 0.23 ms in the run before.
- stats 0.04 -> 0.04.
- verify_ledger 0.070 s -> 4.6 s settled, 0.045 s -> 3.2 s open; verify_counters 0.079 s -> 4.8 s
  settled, 0.052 s -> 4.0 s open (one run each; under load 8-9 the same code took 9-23 s).
- HTTP with an API key, one keep-alive connection, response cache off (every answer made afresh,
  as after any write), p50 over GET /api/wallet's (0.66 ms at 1 M): lists 1.53-1.73x at 1 M
  (1.55-1.68x at 10 k): no filter 1.58, status 1.61, capability 1.59, budget_low status=open
  1.62, /api/agents/me/tasks 1.67, wallet transactions 1.53, q=parser 1.73 (1.57-1.88 over nine
  runs that day, the 1.88 begun at load 1.8: a total that reached its cap is not counted again,
  see storage/_search.py); stats 0.99. Cache on (the default; a keyed GET answered again while the
  market is unchanged): 1.00-1.05x.
See docs/ARCHITECTURE.md for the 10 M estimate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Market  # noqa: E402
from engine import validation as v  # noqa: E402

CAPABILITIES = ("research", "writing", "coding", "translation", "summarization")
WORDS = ("parser", "report", "summary", "haiku", "invoice", "translate", "review", "design", "audit", "index")


#: How a built market's tasks end: "settled" (about 6 in 10 completed and rated, 1 in 10
#: cancelled, the rest open), "open" (9 in 10 still open, the rest completed and rated) or
#: "completed" (every task completed and rated: its bytes per task are bytes per lifecycle).
SHAPES = ("settled", "open", "completed")
#: Operations per ``Market.batch()`` transaction while building.
BATCH = 500


def build(path: Path, tasks: int, agents: int = 50, shape: str = "settled") -> dict[str, Any]:
    """A market of ``tasks`` tasks by ``agents`` agents at ``path``, made through the engine's
    operations (``BATCH`` operations per ``Market.batch()``), described in ``<path>.json``.

    A market already described there is reused as it is; one without its description (a build
    that was stopped) is built on from where it stopped, since each batch commits whole.

    Returns:
        The description: agent ids, an API key of the first two agents, the build's rate
        (tasks a second, of the last build session) and its seconds.
    """
    described = Path(f"{path}.json")
    if described.exists() and path.exists():
        return json.loads(described.read_text())
    if not path.exists():
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    market = Market(path)
    ids = [a.id for a in reversed(market.list_agents(limit=100))]
    if not ids:
        ids = [market.register_agent(name=f"agent{i}", description=f"Does {WORDS[i % len(WORDS)]} work",
                                     capabilities=list(CAPABILITIES), owner_email=f"a{i}@example.com").agent.id
               for i in range(agents)]
        for agent_id in ids:
            market.grant(agent_id, 10 * tasks)
    agents = len(ids)
    settled = {"settled": 6, "open": 1, "completed": 10}[shape]
    done = sum(market.stats().tasks.values())
    started = time.perf_counter()
    for first in range(done, tasks, BATCH):
        with market.batch():
            for n in range(first, min(tasks, first + BATCH)):
                poster, worker = ids[n % agents], ids[(n * 7 + 1) % agents]
                if worker == poster:
                    worker = ids[(n + 1) % agents]
                task = market.post_task(poster, title=f"{WORDS[n % len(WORDS)]} number {n}",
                                        description=f"Please {WORDS[(n // 10) % len(WORDS)]} item {n}",
                                        budget=1 + n % 50, required_capabilities=[CAPABILITIES[n % len(CAPABILITIES)]])
                fate = n % 10
                if fate < settled:
                    market.accept_task(task.id, worker)
                    market.complete_task(task.id, worker, "done")
                    market.rate_task(task.id, poster, 1 + n % 5)
                elif fate == 6 and shape == "settled":
                    market.cancel_task(task.id, poster)
    seconds = time.perf_counter() - started
    description = {"tasks": tasks, "shape": shape, "agents": ids, "keys": [market.rotate_key(i) for i in ids[:2]],
                   "rate": (tasks - done) / seconds if tasks > done else None, "seconds": seconds}
    market.checkpoint()
    market.close()
    described.write_text(json.dumps(description))
    return description


#: The triggers the write-cost comparison drops, by the prefix of their names (schema migrations 9, 11, 13, 17).
TRIGGERS = {"counters": ("tasks_count", "task_capabilities_count", "transfers_count", "agents_count",
                         "agent_capabilities_count"),
            "search": ("tasks_fts", "agents_fts")}


def trigger_cost(directory: Path, tasks: int, rounds: int) -> dict[str, float]:
    """Build rate (tasks a second, settled shape) with every trigger, without the counters',
    without the search index's and without either: the best of ``rounds`` fresh builds each."""
    variants = {"all triggers": (), "without counter triggers": TRIGGERS["counters"],
                "without search triggers": TRIGGERS["search"],
                "without either": TRIGGERS["counters"] + TRIGGERS["search"]}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, dropped in variants.items():
            path = directory / "triggers.db"
            for suffix in ("", "-wal", "-shm", ".json"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            Market(path).close()
            conn = sqlite3.connect(path)
            for (trigger,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'trigger'").fetchall():
                if trigger.startswith(dropped):
                    conn.execute(f"DROP TRIGGER {trigger}")
            conn.commit()
            conn.close()
            best[name] = max(best.get(name, 0.0), build(path, tasks)["rate"])
    return best


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """p50 and p99 of ``call`` in milliseconds over ``repeat`` runs."""
    return round_robin([call], repeat)[0]


def round_robin(calls: list[Callable[[], Any]], repeat: int) -> list[tuple[float, float]]:
    """p50 and p99 in milliseconds of each of ``calls``, run ``repeat`` rounds of one call each:
    a burst of load on the shared machine falls on every call alike, so their ratios hold even
    when the absolute figures do not."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for call, spent in zip(calls, times):
            started = time.perf_counter()
            call()
            spent.append((time.perf_counter() - started) * 1000)
    return [percentiles(spent) for spent in times]


def percentiles(times: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``times``."""
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def deep_cursor(page: Callable[..., Any], depth: int) -> str | None:
    """The cursor ``depth`` rows into a list, walked 100 rows at a time; on a shorter list, the
    cursor of its deepest page of 20 that is still full."""
    cursors: list[str | None] = [None]  # the cursor 0, 100, 200, ... rows in
    while (len(cursors) - 1) * 100 < depth:
        result = page(limit=100, cursor=cursors[-1])
        if result.next_cursor is None:
            return cursors[max(0, ((len(cursors) - 1) * 100 + len(result.items) - 20) // 100)]
        cursors.append(result.next_cursor)
    return cursors[-1]


def requests(market: Market, me: str) -> dict[str, Callable[..., Any]]:
    """Every documented list as a call taking ``limit`` and ``cursor``."""
    tasks = market.tasks_page
    lists: dict[str, Callable[..., Any]] = {
        "tasks": lambda **p: tasks(v.task_query(**p)),
        "tasks status=completed": lambda **p: tasks(v.task_query("completed", **p)),
        "tasks status=open": lambda **p: tasks(v.task_query("open", **p)),
        "tasks capability=research": lambda **p: tasks(v.task_query(capability="research", **p)),
        "tasks status=open capability=research": lambda **p: tasks(v.task_query("open", "research", **p)),
        "tasks order=budget_high": lambda **p: tasks(v.task_query(order="budget_high", **p)),
        "tasks order=budget_low": lambda **p: tasks(v.task_query(order="budget_low", **p)),
        "tasks order=budget_low status=open": lambda **p: tasks(v.task_query("open", order="budget_low", **p)),
        "tasks capability=research order=budget_high": lambda **p: tasks(
            v.task_query(capability="research", order="budget_high", **p)),
        "tasks poster_id": lambda **p: tasks(v.task_query(poster_id=me, **p)),
        "tasks assigned_to": lambda **p: tasks(v.task_query(assigned_to=me, **p)),
        "my tasks (involving)": lambda **p: tasks(v.task_query(involving=me, **p)),
        "tasks q=parser (matches)": lambda **p: tasks(v.task_query(search="parser", **p)),
        "tasks q=parser status=open": lambda **p: tasks(v.task_query("open", search="parser", **p)),
        "tasks q=zzzz (no match)": lambda **p: tasks(v.task_query(search="zzzz", **p)),
        "agents": lambda **p: market.agents_page(v.agent_query(**p)),
        "agents order=reputation": lambda **p: market.agents_page(v.agent_query(order="reputation", **p)),
        "wallet transactions": lambda **p: market.ledger.transactions_page(me, p["limit"], cursor=p["cursor"]),
    }
    return lists


def measure_lists(markets: list[tuple[Market, str]], repeat: int, depth: int) -> list[dict[str, tuple[float, float]]]:
    """p50/p99 on each of ``markets`` (a market and the agent whose lists are read) of every list
    (page 1 and ``depth`` rows deep by cursor) and of stats, the markets taking turns call by call
    (``round_robin``), so the large market's ratio to the small one's is not a change of load.
    Where a list is shorter than ``depth`` (on the small market), its deepest full page is read."""
    figures: list[dict[str, tuple[float, float]]] = [{} for _ in markets]
    pages = [requests(market, me) for market, me in markets]
    for name in pages[0]:
        firsts = [partial(each[name], limit=20, cursor=None) for each in pages]
        deeps = [partial(each[name], limit=20, cursor=deep_cursor(each[name], depth)) for each in pages]
        for label, calls in ((f"{name} (page 1)", firsts), (f"{name} ({depth:,} deep)", deeps)):
            for spot, figure in zip(figures, round_robin(calls, repeat)):
                spot[label] = figure
    for spot, figure in zip(figures, round_robin([market.stats for market, _ in markets], repeat)):
        spot["stats"] = figure
    return figures


def measure_checks(market: Market, runs: int = 1) -> dict[str, tuple[float, float]]:
    """How long ``verify_ledger`` and ``verify_counters`` take (``runs`` runs each); a market
    that does not verify stops the run."""
    return {name: timed(lambda: _sound(check()), runs)
            for name, check in (("verify_ledger", market.verify_ledger), ("verify_counters", market.verify_counters))}


def _sound(report: Any) -> None:
    if not report.ok:
        raise RuntimeError(f"the market does not verify: {report.failed()}")


def http_figures(path: Path, key: str, repeat: int) -> dict[str, tuple[float, float]]:
    """p50/p99 over HTTP (``agentmarket serve`` on ``path``, one keep-alive connection, the
    agent's API key) of list requests, beside ``GET /api/wallet`` on the same server: with the
    response cache off (every answer made afresh, as after any write) and on (the default)."""
    figures = _http_figures(path, key, repeat, cached=False)
    figures.update({f"{name} (cached)": f for name, f in _http_figures(path, key, repeat, cached=True).items()})
    return figures


#: The requests ``http_figures`` times, ``GET /api/wallet`` first (the yardstick of SPEC §12's 2x).
HTTP_TARGETS = ("/api/wallet", "/api/tasks?limit=20", "/api/tasks?status=open&limit=20",
                "/api/tasks?capability=research&limit=20", "/api/tasks?order=budget_low&status=open&limit=20",
                "/api/agents/me/tasks?limit=20", "/api/tasks?q=parser&limit=20",
                "/api/wallet/transactions?limit=20", "/api/stats")


def _http_figures(path: Path, key: str, repeat: int, cached: bool) -> dict[str, tuple[float, float]]:
    import http.client
    from urllib.parse import urlsplit

    from tests.support.server import server_process

    with server_process(path, env={"AGENTMARKET_RESPONSE_CACHE": "1" if cached else "0"}) as server:
        where = urlsplit(server.url)
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)

        def get(target: str) -> None:
            connection.request("GET", target, headers={"X-API-Key": key})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {target}: {response.status}")

        for target in HTTP_TARGETS:
            get(target)
        figures = round_robin([partial(get, target) for target in HTTP_TARGETS], repeat)
        connection.close()
    return {f"HTTP GET {target}": figure for target, figure in zip(HTTP_TARGETS, figures)}


def bytes_per_task(path: Path) -> dict[str, float]:
    """Pages of each table and index (dbstat), in bytes per task."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tasks = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
    sizes = {name: size / tasks for name, size in
             conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")}
    conn.close()
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 1_000_000])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES[:2]),
                        help="Markets to build at each size; lists are timed on the first, the checks on each.")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--depth", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "agentmarket-scale",
                        help="Where the markets are built once and kept for later runs.")
    parser.add_argument("--no-build", action="store_true", help="Measure only the large markets already built.")
    parser.add_argument("--http", action="store_true", help="Also time list requests over HTTP beside /api/wallet.")
    parser.add_argument("--checks-only", action="store_true",
                        help="Time only verify_ledger and verify_counters (--repeat times each), no lists.")
    parser.add_argument("--http-only", action="store_true",
                        help="Only time the HTTP requests (on the first shape's markets), nothing through the engine.")
    parser.add_argument("--triggers", type=int, default=0, metavar="TASKS",
                        help="Only compare build rates with and without the counter and search triggers.")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.triggers:
        for name, rate in trigger_cost(args.dir, args.triggers, 3).items():
            print(f"{name:<28} {rate:8,.0f} tasks/s")
        return 0
    columns: dict[int, dict[str, tuple[float, float]]] = {size: {} for size in args.sizes}
    listed: list[tuple[int, Path, str]] = []  # the first shape's market at each size: its lists are timed
    for size in args.sizes:
        figures = columns[size]
        for n, shape in enumerate(args.shapes):
            path = args.dir / f"market-{shape}-{size}.db"
            if args.no_build and size == max(args.sizes) and not Path(f"{path}.json").exists():
                continue
            about = build(path, size, shape=shape)
            rate = f"{about['rate']:,.0f} tasks/s" if about["rate"] else "reused"
            stored = "" if args.checks_only else (f", {sum(bytes_per_task(path).values()):,.0f} B/task in tables"
                                                  " and indexes (dbstat)")
            print(f"{shape} market of {size:,} tasks: built at {rate} in {about['seconds']:,.0f} s;"
                  f" {os.path.getsize(path) / size:,.0f} B/task in the file{stored}", flush=True)
            if n == 0 and (args.http or args.http_only):
                figures.update(http_figures(path, about["keys"][0], args.repeat))
            if args.http_only:
                continue
            if n == 0:
                listed.append((size, path, about["agents"][0]))
            with Market(path) as market:
                market.checkpoint()
                checked = measure_checks(market, args.repeat if args.checks_only else 1)
            figures.update({k if n == 0 else f"{k} ({shape})": f for k, f in checked.items()})
    if not args.checks_only and not args.http_only and listed:
        with contextlib.ExitStack() as stack:
            markets = [(stack.enter_context(Market(path)), me) for _, path, me in listed]
            for (size, _, _), figures in zip(listed, measure_lists(markets, args.repeat, args.depth)):
                columns[size] = {**figures, **columns[size]}
    small, large = args.sizes
    a, b = columns.get(small, {}), columns.get(large, {})
    head = f"{'request':<62} {f'{small:,} p50/p99 ms':>18} {f'{large:,} p50/p99 ms':>18} {'p50 ratio':>9}"
    print(head)
    print("-" * len(head))
    for name in dict.fromkeys([*a, *b]):
        x, y = a.get(name), b.get(name)
        ratio = f"{y[0] / x[0]:9.2f}" if x and y and x[0] else f"{'':9}"
        print(f"{name:<62} {_cell(x)} {_cell(y)} {ratio}")
    for size, figures in columns.items():
        wallet = figures.get(f"HTTP GET {HTTP_TARGETS[0]}")
        if wallet:
            print(f"{size:,} tasks, p50 over HTTP / p50 of GET {HTTP_TARGETS[0]} (cache off, then on):")
            for target in HTTP_TARGETS[1:]:
                on = figures[f"HTTP GET {target} (cached)"][0] / figures[f"HTTP GET {HTTP_TARGETS[0]} (cached)"][0]
                print(f"  {target:<60} {figures[f'HTTP GET {target}'][0] / wallet[0]:5.2f} {on:5.2f}")
    return 0


def _cell(figure: tuple[float, float] | None) -> str:
    return f"{'-':>18}" if figure is None else f"{figure[0]:>8.2f}/{figure[1]:<9.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
