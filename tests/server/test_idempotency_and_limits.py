"""Idempotency-Key (replays, conflicts, in-flight duplicates, across servers) and rate limits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from engine import Market
from tests.outbound.servers import LoopbackServer, Reply
from tests.support.server import running_server

from .conftest import Api, assert_error


def test_same_key_same_body_replays_and_moves_credits_once(api: Api) -> None:
    poster = api.register("Poster")
    headers = {"Idempotency-Key": "post-1"}
    first = poster.post("/api/tasks", {"title": "Once", "budget": 25}, headers=headers)
    again = poster.post("/api/tasks", {"budget": 25, "title": "Once"}, headers=headers)  # same body, other order
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert poster.get("/api/wallet").json()["balance"] == 75
    assert api.anonymous.get("/api/tasks").json()["pagination"]["total"] == 1


def test_same_key_other_body_is_a_conflict(api: Api) -> None:
    poster = api.register("Poster")
    headers = {"Idempotency-Key": "post-1"}
    poster.post("/api/tasks", {"title": "Once", "budget": 25}, headers=headers)
    assert_error(poster.post("/api/tasks", {"title": "Once", "budget": 26}, headers=headers), 409,
                 "idempotency_conflict")
    task_id = api.anonymous.get("/api/tasks").json()["data"][0]["id"]
    assert_error(poster.post(f"/api/tasks/{task_id}/cancel", headers=headers), 409, "idempotency_conflict")
    assert poster.get("/api/wallet").json()["balance"] == 75


def test_keys_are_scoped_per_agent(api: Api) -> None:
    one, two = api.register("One"), api.register("Two")
    headers = {"Idempotency-Key": "shared"}
    assert one.post("/api/tasks", {"title": "A", "budget": 5}, headers=headers).status_code == 201
    assert two.post("/api/tasks", {"title": "A", "budget": 5}, headers=headers).status_code == 201
    assert api.anonymous.get("/api/tasks").json()["pagination"]["total"] == 2


def test_a_retried_accept_gets_its_first_answer(api: Api) -> None:
    poster, worker = api.register("Poster"), api.register("Worker")
    task_id = poster.post("/api/tasks", {"title": "A", "budget": 5}).json()["data"]["id"]
    headers = {"Idempotency-Key": "accept-1"}
    first = worker.post(f"/api/tasks/{task_id}/accept", headers=headers)
    assert worker.post(f"/api/tasks/{task_id}/accept", headers=headers).content == first.content
    assert_error(worker.post(f"/api/tasks/{task_id}/accept"), 409, "invalid_state")


def test_a_duplicate_while_the_first_runs_is_a_conflict(api: Api) -> None:
    arrived = threading.Event()

    def slow_agent(_: object) -> Reply:
        arrived.set()
        return Reply(200, b'{"result": "slow"}', {"Content-Type": "application/json"}, delay=30)

    with LoopbackServer(slow_agent) as agent:
        caller = api.register("Caller")
        hired = api.register("Slow", endpoint_url=agent.url)
        body = {"agent_id": hired.id, "task_description": "wait", "budget": 10}
        headers = {"Idempotency-Key": "hire-1"}
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(caller.post, "/api/execute", body, headers=headers)
            assert arrived.wait(10)
            assert_error(caller.post("/api/execute", body, headers=headers), 409, "idempotency_conflict")
            agent.release.set()
            assert first.result(timeout=30).status_code == 200
    replay = caller.post("/api/execute", body, headers=headers)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert caller.get("/api/wallet").json()["balance"] == 90


def test_one_key_across_two_servers_on_one_file_moves_credits_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with running_server(db, deliver_webhooks=False) as one, \
            Market(db) as second_market, running_server(db, market=second_market, deliver_webhooks=False) as two:
        key = httpx.post(f"{one.url}/api/agents/register", json={
            "name": "Racer", "capabilities": ["x"], "owner_email": "r@example.com"}).json()["data"]["api_key"]
        headers = {"X-API-Key": key, "Idempotency-Key": "race"}

        def post(url: str) -> httpx.Response:
            return httpx.post(f"{url}/api/tasks", json={"title": "Race", "budget": 7}, headers=headers, timeout=30)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, [one.url, two.url] * 8))
        created = [r for r in responses if r.status_code == 201]
        assert created and all(r.content == created[0].content for r in created)
        assert all(r.status_code in (201, 409) for r in responses)
        assert one.market.count_tasks() == 1
        assert one.market.verify_ledger().ok
        assert httpx.get(f"{two.url}/api/wallet", headers={"X-API-Key": key}).json()["balance"] == 93


def test_rate_limit_answers_429_with_retry_after(market_path: Path) -> None:
    with running_server(market_path, settings={"rate_limit_per_minute": 3}, deliver_webhooks=False) as served:
        api = Api(served)
        try:
            agent = api.register("Busy")
            other = api.register("Calm")
            statuses = [agent.get("/api/wallet").status_code for _ in range(3)]
            limited = agent.get("/api/wallet")
            assert statuses == [200, 200, 200]
            error = assert_error(limited, 429, "rate_limited")
            assert int(limited.headers["retry-after"]) >= 1
            assert error["retry_after"] == int(limited.headers["retry-after"])
            assert other.get("/api/wallet").status_code == 200
            assert api.anonymous.get("/api/tasks").status_code == 200  # no key: not limited per key
        finally:
            api.close()
