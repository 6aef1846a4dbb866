"""Requests per second of the API's hot requests, each as a ratio to a do-nothing server
measured in the same run.

Both servers run as their own processes on loopback: ``agentmarket serve`` on a market of
``--tasks`` open tasks (access log on, as deployed), and a bare ``http.server`` handler
(HTTP/1.1, TCP_NODELAY, a thread per connection) that reads the request and answers with
fixed JSON bytes: the ceiling of any server written on ``http.server`` on this machine.
Load comes from ``wrk`` (``apt-get install wrk``: two threads, keep-alive connections)
when it is on the PATH, else from client processes that each hold one keep-alive
``http.client`` connection. Rounds interleave the ceiling with every row, so a busy moment
of the machine hits them alike; each row's ratio is the median of its per-round ratios.

Rows (issue 14's table, plus more clients and ``--workers 2``):

* ``GET /api/tasks?status=open&limit=20`` without a key (served from the response cache),
  and with a key; ``GET /api/wallet``, ``GET /api/agents/me``, ``GET /api/tasks/{id}``;
* ``POST /api/tasks`` with an invalid body (400), and valid at 1, 16 and 64 connections
  (against the do-nothing POST ceiling at the same connections);
* the authenticated reads again with ``serve --workers 2`` (against the single-process ceiling),
  and the do-nothing server itself in two processes on one port (what two processes can gain
  on this machine at that moment: the ``--workers 2`` goal needs about x1.8);
* each row's CPU time per request (server processes only, from /proc) and the ceiling's
  CPU per request over ours: the ratio the row would reach if CPU were all that counted;
* the same-rows floor of a valid post (``benchmarks/post_floor.py``): the statements the
  server runs for 1,000 posts, recorded and replayed with bare sqlite3 on a copy of the market,
  one post a transaction and 64 (group commit's batches): the most posts a second one SQLite
  writer can reach with the engine's rows, indexes and triggers, whatever the Python above it;
* ``--profile post16,w2_list``: py-spy samples of the thread holding each server process's GIL
  under a row's load (after the rounds): how busy the GIL is, and where it goes.

Targets: authenticated reads >= 0.5; valid posts at 16 and 64 clients >= 0.5 and 64 not slower
than 1; ``--workers 2`` reads >= 0.9.

    python benchmarks/http_bench.py [--seconds 3] [--rounds 3] [--tasks 10000] [--clients 16]
                                    [--only wallet,post16] [--no-workers] [--no-floor] [--profile post16]

Measured 2026-11-30 on the 2-core VM shared with four other sessions' test runs (load average
19-22 during the runs; ceilings 3,400-7,300 GET/s, 4,400-6,600 POST/s), two runs (13:43, 12:43),
medians of 3 rounds each:

    list, no key (cached)  0.98, 0.92    list        0.54, 0.66    wallet  0.55, 0.70
    me                     0.59, 0.63    task        0.53, 0.65    invalid post (400)  0.49, 0.54
    valid post x1          0.11, 0.10    x16         0.12, 0.13    x64     0.12, 0.11
    64 clients / 1 client  1.03, 0.83
    --workers 2: list 0.65, 0.66 | wallet 0.69, 0.69 | me 0.64, 0.72 | task 0.63, 0.74 | post x64 0.12, 0.11
    do-nothing server in 2 processes / in 1: x1.32, x1.45 (x1.16 in a third, shorter run)
    same-rows floor, 8 statements a post: 460-806 posts/s one a transaction (0.10, 0.14 of the
    POST x16 ceiling); 1,140-1,373 posts/s 64 a transaction (0.23, 0.24)

What bounds the two goals not met:

* valid posts >= 0.5: one writer must run a post's own SQL serially, and that alone (the
  same-rows floor, no Python at all) reaches 0.23-0.24 of the POST ceiling, under half the goal:
  the rows, their indexes and triggers (the task insert ~0.3 ms of ~0.63 ms, the transfer
  ~0.14 ms) cost more per post than the do-nothing server spends on a whole request (~0.17 ms
  of CPU). The server reaches 0.11-0.13, about half its floor: a post costs 1.1-1.3 ms of server
  CPU, and the profile puts the group-commit writer thread's Python (post, ledger, savepoints)
  at ~45-60% of the GIL-holding samples. Until the writes themselves get cheaper, no server in
  front of this schema can meet 0.5 on this machine.
* ``--workers 2`` reads >= 0.9: the do-nothing server itself gains only x1.16-1.45 from a second
  process here (the brief's test: two processes must reach x1.8 of one), and ours, at
  0.53-0.73 of the ceiling per process, would need x1.25-1.7 from the machine to get there:
  it reached 0.63-0.74. Under that load no worker process's GIL is busy more than ~20-35% of
  the time (py-spy): the processes wait for a core, not for each other.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import post_floor  # noqa: E402
from engine import Market  # noqa: E402
from tests.support.server import server_process  # noqa: E402

LIST = "/api/tasks?status=open&limit=20"
VALID_POST = json.dumps({"title": "Benchmark task", "budget": 1, "required_capabilities": ["coding"]})
INVALID_POST = json.dumps({"title": "", "budget": -1})
WORKERS = 2
#: Posts captured for the same-rows floor.
FLOOR_POSTS = 1000


@dataclass(frozen=True)
class Row:
    """One measured request: what it is, and which server and ceiling it runs against."""

    name: str
    label: str
    method: str
    path: str
    key: bool = True
    body: str = ""
    clients: int = 16
    status: int = 200
    server: str = "ours"  # or "workers", or "ceiling2" (the do-nothing server in two processes)
    target: float | None = 0.5


@dataclass(frozen=True)
class Market10k:
    """What the rows need of the seeded market."""

    key: str
    task_id: str


def seed_market(path: Path, tasks: int) -> Market10k:
    """A market of ``tasks`` open tasks (and a quarter as many assigned) from five posters."""
    with Market(path) as market:
        posters = [market.register_agent(name=f"Poster {n}", capabilities=["coding"],
                                         owner_email=f"p{n}@example.com") for n in range(5)]
        worker = market.register_agent(name="Worker", capabilities=["coding"], owner_email="w@example.com").agent.id
        for poster in posters:
            market.grant(poster.agent.id, 10**9)
        with market.batch():
            for n in range(tasks + tasks // 4):
                task = market.post_task(posters[n % 5].agent.id, title=f"Task number {n}",
                                        description="Do the thing " * 10, budget=1 + n % 50,
                                        required_capabilities=["coding"])
                if n % 5 == 0:
                    market.accept_task(task.id, worker)
        return Market10k(posters[0].api_key, task.id)


def rows(seeded: Market10k, clients: int, workers: bool) -> list[Row]:
    reads = [
        Row("list_anon", f"GET {LIST}, no key (cached)", "GET", LIST, key=False, clients=clients, target=None),
        Row("list", f"GET {LIST}", "GET", LIST, clients=clients),
        Row("wallet", "GET /api/wallet", "GET", "/api/wallet", clients=clients),
        Row("me", "GET /api/agents/me", "GET", "/api/agents/me", clients=clients),
        Row("task", "GET /api/tasks/{id}", "GET", f"/api/tasks/{seeded.task_id}", clients=clients),
    ]
    table = [
        *reads,
        Row("post_invalid", "POST /api/tasks invalid (400)", "POST", "/api/tasks", body=INVALID_POST,
            clients=clients, status=400, target=None),
        Row("post1", "POST /api/tasks valid, 1 client", "POST", "/api/tasks", body=VALID_POST, clients=1,
            status=201, target=None),
        Row("post16", "POST /api/tasks valid, 16 clients", "POST", "/api/tasks", body=VALID_POST, clients=16,
            status=201),
        Row("post64", "POST /api/tasks valid, 64 clients", "POST", "/api/tasks", body=VALID_POST, clients=64,
            status=201),
    ]
    if workers:
        table += [Row(f"w{WORKERS}_{r.name}", f"--workers {WORKERS}: {r.label}", r.method, r.path, key=r.key,
                      clients=r.clients, server="workers", target=0.9) for r in reads[1:]]
        table.append(Row(f"ceiling{WORKERS}", f"the do-nothing server in {WORKERS} processes: GET, key",
                         "GET", LIST, clients=clients, server=f"ceiling{WORKERS}", target=None))
        table.append(Row(f"w{WORKERS}_post64", f"--workers {WORKERS}: POST /api/tasks valid, 64 clients", "POST",
                         "/api/tasks", body=VALID_POST, clients=64, status=201, server="workers", target=None))
    return table


# -- the ceiling ---------------------------------------------------------------------------
def _ceiling(body: bytes, port: int, port_out: Connection) -> None:
    class FixedAnswer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815 (http.server's naming)

        def log_message(self, *args: object) -> None:
            pass

    class Quiet(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # wrk closes its connections mid-request at the end of a run

    Quiet.allow_reuse_port = True  # SO_REUSEPORT: more processes may serve the same port
    server = Quiet(("127.0.0.1", port), FixedAnswer)
    server.daemon_threads = True
    server.request_queue_size = 128
    port_out.send(server.server_address[1])
    server.serve_forever()


@dataclass(frozen=True)
class Served:
    """A server under test: its port, and the processes whose CPU time it spends."""

    port: int
    pids: Callable[[], list[int]]


@contextmanager
def ceiling_running(body: bytes, processes: int = 1) -> Iterator[Served]:
    """The do-nothing server answering ``body``, in ``processes`` processes on one port."""
    context = multiprocessing.get_context("fork")
    started: list[multiprocessing.process.BaseProcess] = []
    port = 0
    try:
        for _ in range(processes):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_ceiling, args=(body, port, send), daemon=True)
            process.start()
            started.append(process)
            port = receive.recv()
        yield Served(port, lambda: [p.pid for p in started if p.pid is not None])
    finally:
        for process in started:
            process.terminate()
            process.join()


@contextmanager
def ours_running(db: Path, *extra: str) -> Iterator[Served]:
    """``agentmarket serve`` on ``db`` (access log on)."""
    with server_process(db, allow_private_urls=False, extra_args=extra) as served:
        yield Served(int(served.url.rsplit(":", 1)[1]),
                     lambda: [served.process.pid, *served.workers()])


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes ``pids`` have spent so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


# -- load ----------------------------------------------------------------------------------
_WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{key}
"""


def _lua(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk_rate(port: int, row: Row, api_key: str, seconds: float, scripts: Path) -> tuple[float, int]:
    """Requests per second under wrk, and how many answers had another status than ``row.status``
    (wrk counts only non-2xx/3xx, so for a 400 row it is the 2xx ones)."""
    script = scripts / f"{row.name}.lua"
    key = f'wrk.headers["X-API-Key"] = {_lua(api_key)}' if row.key else ""
    script.write_text(_WRK_SCRIPT.format(method=_lua(row.method), body=_lua(row.body), key=key))
    threads = min(2, row.clients)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{row.clients}", f"-d{seconds:g}s", "-s", str(script),
                          f"http://127.0.0.1:{port}{row.path}"], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    return rate, (total - bad if row.status >= 300 else bad)


def _client(port: int, row: Row, api_key: str, seconds: float, start_at: float, out: Connection) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", **({"X-API-Key": api_key} if row.key else {})}
    done = wrong = 0
    while time.time() < start_at:
        time.sleep(0.001)
    stop_at = start_at + seconds
    while time.time() < stop_at:
        connection.request(row.method, row.path, body=row.body or None, headers=headers)
        response = connection.getresponse()
        response.read()
        done += 1
        wrong += response.status != row.status
    connection.close()
    out.send((done, wrong))


def process_rate(port: int, row: Row, api_key: str, seconds: float) -> tuple[float, int]:
    """Requests per second of ``row.clients`` client processes, and the answers of another status."""
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 0.5
    pipes, processes = [], []
    for _ in range(row.clients):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_client, args=(port, row, api_key, seconds, start_at, send))
        process.start()
        pipes.append(receive)
        processes.append(process)
    counts = [pipe.recv() for pipe in pipes]
    for process in processes:
        process.join()
    return sum(c[0] for c in counts) / seconds, sum(c[1] for c in counts)


# -- profiles --------------------------------------------------------------------------------
def profile(served: Served, load: Callable[[], object], seconds: float, out: Path) -> list[str]:
    """Sample, with py-spy, the thread holding each of ``served``'s processes' GIL while
    ``load`` runs; how busy each GIL was, and the top entries, as lines."""
    if shutil.which("py-spy") is None:
        return ["    (py-spy is not installed: pip install py-spy)"]
    rate = 200
    spies = {pid: subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", f"{seconds:g}", "--gil",
                                    "--rate", str(rate), "--format", "raw", "--nonblocking",
                                    "-o", str(out.with_suffix(f".{pid}.txt"))],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in served.pids()}
    load()
    own: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    held: dict[int, int] = {}
    for pid, spy in spies.items():
        spy.wait()
        path = out.with_suffix(f".{pid}.txt")
        for line in (path.read_text() if path.exists() else "").splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")[1:]]  # the first names the thread
            if frames:
                held[pid] = held.get(pid, 0) + int(count)
                own[frames[-1]] += int(count)
                for frame in set(frames):
                    inside[frame] += int(count)
    total = sum(held.values())
    if not total:
        return ["    (no samples: is py-spy installed and allowed to read the process?)"]
    busy = ", ".join(f"{n / (rate * seconds):.0%}" for n in held.values() if n)
    lines = [f"    {total:,} samples; the GIL was held {busy} of the time (per busy process); "
             "own time (the frame itself), of the GIL-holding samples:"]
    lines += [f"      {n / total:6.1%}  {frame[:110]}" for frame, n in own.most_common(15)]
    lines.append("    including callees:")
    lines += [f"      {n / total:6.1%}  {frame[:110]}" for frame, n in inside.most_common(40)
              if not frame.startswith(("Thread.", "_ReusedThreads._work", "BaseServer.", "BaseRequestHandler.",
                                       "MarketHTTPServer.", "BaseHTTPRequestHandler.handle ("))][:18]
    return lines


# -- the run -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="connections of the read rows")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians count")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--only", default="", help="comma-separated row names")
    parser.add_argument("--no-workers", action="store_true", help=f"skip the --workers {WORKERS} rows")
    parser.add_argument("--no-wrk", action="store_true", help="use client processes even where wrk is installed")
    parser.add_argument("--no-floor", action="store_true", help="skip the same-rows floor of a post")
    parser.add_argument("--profile", default="", help="comma-separated row names to profile with py-spy after "
                                                      "the rounds (e.g. post16,w2_list)")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.no_wrk

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        db = Path(tmp) / "bench.db"
        seeded = seed_market(db, args.tasks)
        pristine = Path(tmp) / "pristine.db"
        shutil.copy(db, pristine)
        table = rows(seeded, args.clients, not args.no_workers)
        if args.only:
            table = [r for r in table if r.name in args.only.split(",")]
        served = {"ours": servers.enter_context(ours_running(db))}
        if any(r.server == "workers" for r in table):
            served["workers"] = servers.enter_context(ours_running(db, "--workers", str(WORKERS)))
        conn = http.client.HTTPConnection("127.0.0.1", served["ours"].port)
        conn.request("GET", LIST)
        body = conn.getresponse().read()
        conn.close()
        ceiling = servers.enter_context(ceiling_running(body))
        if any(r.server == "ceiling2" for r in table):
            served["ceiling2"] = servers.enter_context(ceiling_running(body, processes=WORKERS))

        def measure(server: Served, row: Row) -> tuple[float, float]:
            """Requests per second, and CPU seconds the server spent per request."""
            cpu = cpu_seconds(server.pids())
            if use_wrk:
                value, wrong = wrk_rate(server.port, row, seeded.key, args.seconds, Path(tmp))
            else:
                value, wrong = process_rate(server.port, row, seeded.key, args.seconds)
            if wrong and server is not ceiling and row.server != "ceiling2":
                raise SystemExit(f"{row.label}: {wrong} answers were not {row.status}")
            return value, (cpu_seconds(server.pids()) - cpu) / (value * args.seconds)

        ceilings: dict[tuple[str, int], list[float]] = {}
        ours: dict[str, list[float]] = {r.name: [] for r in table}
        ratios: dict[str, list[float]] = {r.name: [] for r in table}
        cpu_ours: dict[str, list[float]] = {r.name: [] for r in table}
        cpu_ceiling: dict[str, list[float]] = {r.name: [] for r in table}
        for _ in range(args.rounds):
            for row in table:
                ceiling_row = Row("ceiling", "", row.method, row.path, key=row.key, body=row.body,
                                  clients=row.clients, status=200)
                top, top_cpu = measure(ceiling, ceiling_row)
                ceilings.setdefault((row.method, row.clients), []).append(top)
                value, value_cpu = measure(served[row.server], row)
                ours[row.name].append(value)
                ratios[row.name].append(value / top)
                cpu_ours[row.name].append(value_cpu)
                cpu_ceiling[row.name].append(top_cpu)

        floors: dict[int, list[float]] = {}
        statements = 0.0
        if not args.no_floor:
            captured_db = Path(tmp) / "captured.db"
            shutil.copy(pristine, captured_db)
            captured = post_floor.capture_posts(captured_db, seeded.key, VALID_POST, FLOOR_POSTS)
            statements = post_floor.statements_per_post(captured)
            for _ in range(args.rounds):
                for per_transaction in (1, 64):
                    copy = Path(tmp) / f"floor-{per_transaction}.db"
                    shutil.copy(pristine, copy)
                    floors.setdefault(per_transaction, []).append(
                        post_floor.replay(copy, captured, per_transaction))
                    copy.unlink()

        profiles: dict[str, list[str]] = {}
        for name in filter(None, args.profile.split(",")):
            row = next(r for r in rows(seeded, args.clients, True) if r.name == name)
            target = served.get(row.server) or servers.enter_context(
                ours_running(db, "--workers", str(WORKERS)))
            profiles[name] = profile(
                target, lambda: wrk_rate(target.port, row, seeded.key, args.seconds * 2, Path(tmp)),
                args.seconds * 2, Path(tmp) / f"profile-{name}")

    print(f"{'wrk -t2' if use_wrk else 'client processes'}, {args.rounds} rounds of {args.seconds:g} s, "
          f"{args.tasks:,} open tasks; ratio: median of per-round ours/ceiling; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for (method, clients), values in sorted(ceilings.items()):
        print(f"  ceiling {method} x{clients:<3}: {min(values):8,.0f}-{max(values):,.0f} requests/s")
    print(f"  {'row':56} {'requests/s':>17}  {'ratio':>5}  {'target':12} {'CPU ms/request':>14}  "
          f"ceiling's/ours")
    for row in table:
        low, high = min(ours[row.name]), max(ours[row.name])
        ratio = statistics.median(ratios[row.name])
        mark = "" if row.target is None else f">= {row.target} {'ok' if ratio >= row.target else 'BELOW'}"
        cpu = statistics.median(cpu_ours[row.name])
        cpu_ratio = statistics.median(cpu_ceiling[row.name]) / cpu if cpu else float("nan")
        print(f"  {row.label:56} {low:8,.0f}-{high:<8,.0f} {ratio:5.2f}  {mark:12} {cpu * 1000:14.3f}  {cpu_ratio:.2f}")
    if "post1" in ours and "post64" in ours:
        one, many = statistics.median(ours["post1"]), statistics.median(ours["post64"])
        print(f"  valid posts, 64 clients / 1 client: {many / one:.2f}  (target >= 1)")
    post_ceiling = statistics.median(ceilings.get(("POST", 16), [0.0])) or None
    for per_transaction, values in sorted(floors.items()):
        rate = statistics.median(values)
        share = f" = {rate / post_ceiling:.2f} of the POST x16 ceiling (the goal: 0.5)" if post_ceiling else ""
        print(f"  same-rows floor, bare sqlite3, {statements:.0f} statements a post, {per_transaction} post(s) a "
              f"transaction: {min(values):,.0f}-{max(values):,.0f} posts/s{share}")
    if f"ceiling{WORKERS}" in ours and "list" in ours:
        scale = statistics.median(ratios[f"ceiling{WORKERS}"])
        best = max(statistics.median(ratios[r.name]) for r in table if r.name in ("list", "wallet", "me", "task"))
        print(f"  --workers {WORKERS} bound: the do-nothing server scales x{scale:.2f} on {WORKERS} processes; ours at "
              f"its best single-process read ratio ({best:.2f}) scaled alike reaches {best * scale:.2f} (the goal: 0.9)")
    for name, lines in profiles.items():
        print(f"  profile of {name} (py-spy, {args.seconds * 2:g} s under the same load):")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
