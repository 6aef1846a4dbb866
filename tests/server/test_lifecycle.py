"""The server as a process: keep-alive, slow clients, the access log, SIGTERM, and kill -9 under load."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from engine import Market
from tests.outbound.servers import LoopbackServer, Reply
from tests.support.server import RunningServer, health_over, server_process


_STATES = ["open", "assigned", "completed"]


def _register(url: str, name: str) -> tuple[str, str]:
    data = httpx.post(f"{url}/api/agents/register", json={
        "name": name, "capabilities": ["coding"], "owner_email": f"{name.lower()}@example.com"}).json()["data"]
    return data["id"], data["api_key"]


def test_keep_alive_serves_many_requests_on_one_connection(served: RunningServer) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for _ in range(3):
            health_over(sock)


def test_slow_and_silent_clients_do_not_block_others(served: RunningServer) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    stalled = [socket.create_connection((host, int(port))) for _ in range(5)]
    try:
        stalled[0].sendall(b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # never finished
        stalled[1].sendall(b"GET /api/tas")  # half a request line
        with httpx.Client(base_url=served.url, timeout=5) as client:
            for _ in range(20):
                assert client.get("/api/tasks").status_code == 200
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.slow
def test_access_log_has_one_line_per_request_and_no_secrets(tmp_path: Path) -> None:
    with server_process(tmp_path / "m.db") as server:
        _, key = _register(server.url, "Logger")
        httpx.get(f"{server.url}/api/wallet", headers={"X-API-Key": key})
        httpx.get(f"{server.url}/api/tasks?api_key={key}&q=secret-query")
        httpx.delete(f"{server.url}/api/tasks")
        assert server.terminate() == 0
        log = server.stderr()
    lines = [line for line in log.splitlines() if '"' in line]
    assert [line.split('"')[1] for line in lines] == [
        "GET /api/health", "POST /api/agents/register", "GET /api/wallet", "GET /api/tasks", "DELETE /api/tasks"]
    assert [line.split('"')[2].split()[0] for line in lines] == ["200", "201", "200", "200", "405"]
    assert key not in log and "secret-query" not in log
    assert all(line.endswith("ms") for line in lines)


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path) -> None:
    arrived = threading.Event()

    def slow(_: object) -> Reply:
        arrived.set()
        return Reply(200, b'{"result": "finished"}', {"Content-Type": "application/json"}, delay=1.0)

    with LoopbackServer(slow) as agent, server_process(tmp_path / "m.db") as server:
        caller_id, caller = _register(server.url, "Caller")
        hired = httpx.post(f"{server.url}/api/agents/register", json={
            "name": "Slow", "capabilities": ["x"], "owner_email": "s@example.com",
            "endpoint_url": agent.url}).json()["data"]["id"]
        outcome: dict[str, httpx.Response] = {}
        request = threading.Thread(target=lambda: outcome.setdefault("r", httpx.post(
            f"{server.url}/api/execute", headers={"X-API-Key": caller}, timeout=30,
            json={"agent_id": hired, "task_description": "take your time", "budget": 10})))
        request.start()
        assert arrived.wait(10)
        server.process.terminate()  # SIGTERM while the hire is running
        request.join(30)
        assert server.process.wait(timeout=20) == 0
        assert outcome["r"].status_code == 200
        assert outcome["r"].json()["data"]["result"] == "finished"
    with Market(tmp_path / "m.db") as market:
        assert market.balance(caller_id) == 90
        assert market.verify_ledger().ok


@pytest.mark.slow
def test_kill_9_under_load_keeps_every_acknowledged_change(tmp_path: Path) -> None:
    db = tmp_path / "market.db"
    acknowledged: dict[str, str] = {}  # task id -> the last state a 2xx response reported
    lock = threading.Lock()
    stop = threading.Event()
    with server_process(db) as server:
        agents = [_register(server.url, f"Agent{i}") for i in range(6)]

        def trade(seed: int) -> None:
            rng = random.Random(seed)
            poster_key = agents[seed][1]
            worker_key = agents[(seed + 1) % len(agents)][1]
            with httpx.Client(base_url=server.url, timeout=10) as client:
                while not stop.is_set():
                    try:
                        posted = client.post("/api/tasks", headers={"X-API-Key": poster_key},
                                             json={"title": f"job {rng.random()}", "budget": rng.randint(1, 3)})
                        if posted.status_code != 201:
                            continue
                        task_id = posted.json()["data"]["id"]
                        with lock:
                            acknowledged[task_id] = "open"
                        for action, body in (("accept", None), ("complete", {"result": "done"})):
                            response = client.post(f"/api/tasks/{task_id}/{action}", json=body,
                                                   headers={"X-API-Key": worker_key})
                            if response.status_code != 200:
                                break
                            with lock:
                                acknowledged[task_id] = response.json()["data"]["status"]
                    except httpx.HTTPError:
                        return  # the server is gone

        threads = [threading.Thread(target=trade, args=(n,)) for n in range(len(agents))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(15)
    assert len(acknowledged) >= 60

    verify = subprocess.run([sys.executable, "-c", "from agentmarket_tui.cli import main; main()", "ledger",
                             "verify", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with server_process(db) as restarted, httpx.Client(base_url=restarted.url) as client:
        for task_id, state in acknowledged.items():
            stored = client.get(f"/api/tasks/{task_id}").json()["data"]["status"]
            # Committed but unanswered: at most one step ahead of what was acknowledged.
            assert _STATES.index(state) <= _STATES.index(stored) <= _STATES.index(state) + 1, task_id


@pytest.mark.slow
def test_public_url_is_stored_and_allow_private_urls_is_not(tmp_path: Path) -> None:
    db = tmp_path / "from-env.db"
    with server_process(db, settings_from_env=True, extra_args=("--public-url", "https://market.example")) as server:
        assert httpx.get(f"{server.url}/api/health").status_code == 200
        assert server.terminate() == 0
    with Market(db) as market:
        assert market.allow_private_urls is False
        assert market.settings.public_url == "https://market.example"
