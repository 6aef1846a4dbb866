"""``agentmarket serve --workers 2`` when processes die: a killed worker is replaced while the
other serves, workers that keep dying at start-up make the parent give up, and kill -9 of a worker or of the whole group under
concurrent posts leaves a market that verifies, with every acknowledged post in the file and
every retry (same Idempotency-Key) answered with the one post of its key."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from engine import Market
from tests.outbound.servers import wait_until
from tests.support.server import ServerProcess, health_over, server_process

pytestmark = pytest.mark.slow
WORKERS = ("--workers", "2")
CLIENTS = 8
POSTS_BETWEEN_STEPS = 40


# -- helpers -----------------------------------------------------------------------------
def _server_end_owner(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """The process among ``pids`` holding the server's socket of the loopback connection from
    ``client_port`` to ``server_port`` (found through /proc)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == server_port and int(fields[2].split(":")[1], 16) == client_port:
            inode = fields[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def _answered_by(server: ServerProcess, wanted: int, tries: int = 200) -> bool:
    """Whether one of up to ``tries`` fresh connections is answered by the worker ``wanted``
    (the kernel spreads connections over the workers by their addresses); every one is answered."""
    host, port = server.url.removeprefix("http://").split(":")
    for _ in range(tries):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            health_over(sock)
            if _server_end_owner(sock.getsockname()[1], int(port), server.workers()) == wanted:
                return True
    return False


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- respawn -----------------------------------------------------------------------------
def test_a_killed_worker_is_replaced_while_the_other_serves(tmp_path: Path) -> None:
    with server_process(tmp_path / "m.db", extra_args=WORKERS) as server:
        wait_until(lambda: server.started_workers() == 2, timeout=60)
        victim, survivor = server.workers()
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in server.workers(), timeout=30)
        assert _answered_by(server, survivor)  # the other goes on serving meanwhile
        replacement = server.replacement(survivor, starts=3)
        assert replacement != victim
        assert _answered_by(server, replacement)
        assert f"server worker {victim} ended (killed by SIGKILL)" in server.stderr()
        assert server.terminate() == 0


def test_workers_stop_when_their_parent_is_killed(tmp_path: Path) -> None:
    with server_process(tmp_path / "m.db", extra_args=WORKERS) as server:
        wait_until(lambda: server.started_workers() == 2, timeout=60)
        workers = server.workers()
        server.kill()
        wait_until(lambda: not any(_running(pid) for pid in workers), timeout=30)
        assert server.stderr().count(" stopped") == 2  # each drained on the SIGTERM its parent's death sent


def test_workers_that_keep_dying_at_start_up_make_the_parent_give_up(tmp_path: Path) -> None:
    crash = ("import sys\nfrom engine.server import serve_workers\n"
             "def serve_one(port):\n    raise RuntimeError('cannot serve')\n"
             "sys.exit(serve_workers(serve_one, '127.0.0.1', 0, 2))\n")
    ended = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=120,
                           cwd=Path(__file__).resolve().parents[2])
    assert ended.returncode == 1
    last = ended.stderr.strip().splitlines()[-1]
    assert last.startswith("agentmarket serve: server workers keep dying at start-up (5 in a row"), ended.stderr
    assert ended.stderr.count("RuntimeError: cannot serve") == 5


# -- kill -9 under concurrent posts --------------------------------------------------------
class _Posters:
    """``CLIENTS`` threads posting with fresh Idempotency-Keys until stopped, remembering what
    each key was answered (or that it was not)."""

    def __init__(self, server: ServerProcess, api_keys: list[str]) -> None:
        self.answered: dict[str, str] = {}  # Idempotency-Key -> the task id its 201 reported
        self.unanswered: dict[str, int] = {}  # Idempotency-Key -> the poster whose post got no answer
        self.other: list[int] = []  # statuses other than 201
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._post, args=(server.url, api_keys[n], n))
                         for n in range(len(api_keys))]

    def __enter__(self) -> _Posters:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for(self, more: int) -> None:
        """Wait until ``more`` posts beyond those answered now are answered."""
        target = len(self.answered) + more
        wait_until(lambda: len(self.answered) >= target, timeout=60)

    def _post(self, url: str, api_key: str, n: int) -> None:
        with httpx.Client(base_url=url, timeout=15, headers={"X-API-Key": api_key}) as client:
            count = 0
            while not self._stop.is_set():
                key = f"poster{n}-post{count}"
                count += 1
                try:
                    answer = client.post("/api/tasks", headers={"Idempotency-Key": key}, json=_task(key))
                except httpx.HTTPError:
                    with self._lock:
                        self.unanswered[key] = n
                    self._stop.wait(0.05)
                    continue  # the next post opens a new connection: to a live worker
                with self._lock:
                    if answer.status_code == 201:
                        self.answered[key] = answer.json()["data"]["id"]
                    else:
                        self.other.append(answer.status_code)


def _task(title: str) -> dict[str, object]:
    return {"title": title, "budget": 1, "required_capabilities": ["coding"]}


def _posters(db: Path) -> list[str]:
    with Market(db) as market:
        keys = []
        for n in range(CLIENTS):
            registered = market.register_agent(name=f"Poster{n}", capabilities=["x"], owner_email=f"p{n}@example.com")
            market.grant(registered.agent.id, 1_000_000)
            keys.append(registered.api_key)
    return keys


def _check_the_file(db: Path, posters: _Posters) -> None:
    """The market verifies, and every post a client was told 201 about is in it."""
    with Market(db) as market:
        assert market.verify_ledger().ok
        assert market.verify_counters().ok
        for key, task_id in posters.answered.items():
            assert market.get_task(task_id).title == key


def _check_the_retries(server: ServerProcess, db: Path, posters: _Posters, api_keys: list[str]) -> None:
    """Every key retried gets one answer: the stored one if it was answered, else the post it
    made before the kill or a new one; so the file holds exactly one post per key."""
    ids = set(posters.answered.values())
    with httpx.Client(base_url=server.url, timeout=30) as client:
        def retry(key: str, n: int) -> httpx.Response:
            answer = client.post("/api/tasks", json=_task(key),
                                 headers={"X-API-Key": api_keys[n], "Idempotency-Key": key})
            assert answer.status_code == 201, answer.text
            return answer

        for key, task_id in list(posters.answered.items())[::10]:
            replayed = retry(key, int(key.split("-")[0].removeprefix("poster")))
            assert replayed.json()["data"]["id"] == task_id
            assert replayed.headers.get("Idempotent-Replayed") == "true"
        for key, n in posters.unanswered.items():
            ids.add(retry(key, n).json()["data"]["id"])
    with Market(db) as market:
        assert market.count_tasks() == len(ids) == len(posters.answered) + len(posters.unanswered)
        assert market.verify_ledger().ok


def test_kill_9_of_a_worker_under_posts_keeps_every_acknowledged_post(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    api_keys = _posters(db)
    with server_process(db, extra_args=WORKERS) as server:
        wait_until(lambda: server.started_workers() == 2, timeout=60)
        with _Posters(server, api_keys) as posters:
            posters.wait_for(POSTS_BETWEEN_STEPS)
            victim, survivor = server.workers()
            os.kill(victim, signal.SIGKILL)
            posters.wait_for(POSTS_BETWEEN_STEPS)  # the other worker goes on serving
            replacement = server.replacement(survivor, starts=3)
            posters.wait_for(POSTS_BETWEEN_STEPS)
        assert _answered_by(server, replacement)
        assert posters.other == []
        _check_the_file(db, posters)
        _check_the_retries(server, db, posters, api_keys)
        assert server.terminate() == 0


def test_kill_9_of_the_whole_group_under_posts_keeps_every_acknowledged_post(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    api_keys = _posters(db)
    with server_process(db, extra_args=WORKERS) as server:
        wait_until(lambda: server.started_workers() == 2, timeout=60)
        with _Posters(server, api_keys) as posters:
            posters.wait_for(POSTS_BETWEEN_STEPS)
            workers = server.workers()
            server.process.send_signal(signal.SIGSTOP)  # so it cannot replace them
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            server.kill()
    assert posters.other == []
    _check_the_file(db, posters)
    with server_process(db, extra_args=WORKERS) as restarted:
        _check_the_retries(restarted, db, posters, api_keys)
        assert restarted.terminate() == 0
