"""Cached anonymous GETs never show a market older than the last change, wherever it came from."""

from __future__ import annotations

import time

import httpx

from engine import Market
from tests.support.server import RunningServer

from .conftest import Api


def _titles(client: httpx.Client) -> list[str]:
    return [t["title"] for t in client.get("/api/tasks").json()["data"]]


def test_a_write_on_the_same_connection_is_seen_by_the_next_get(api: Api) -> None:
    poster = api.register("Poster")
    with httpx.Client(base_url=api.url) as one_connection:  # one keep-alive connection: one server thread
        assert _titles(one_connection) == []
        one_connection.post("/api/tasks", json={"title": "First", "budget": 5}, headers={"X-API-Key": poster.key})
        assert _titles(one_connection) == ["First"]
        one_connection.post("/api/tasks", json={"title": "", "budget": 5}, headers={"X-API-Key": poster.key})
        assert _titles(one_connection) == ["First"]


def test_writes_from_other_connections_and_processes_are_seen(api: Api, served: RunningServer) -> None:
    poster = api.register("Poster")
    reader = api.anonymous
    assert _titles(reader) == []
    poster.post("/api/tasks", {"title": "Over HTTP", "budget": 5})
    assert _titles(reader) == ["Over HTTP"]
    with Market(served.db) as elsewhere:  # another connection, as another process would have
        elsewhere.post_task(poster.id, title="Directly", budget=5)
    if str(served.db).startswith("postgresql"):
        _await_notification(reader)
    assert _titles(reader) == ["Directly", "Over HTTP"]
    assert reader.get("/api/stats").json()["data"]["tasks"] == {"open": 2}


def _await_notification(reader: httpx.Client) -> None:
    """On PostgreSQL another node's commit reaches this server by NOTIFY, a moment after it: wait
    (at most 10 s) until the cached list has been dropped for it."""
    deadline = time.monotonic() + 10
    while len(_titles(reader)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)


def test_answers_with_a_key_are_not_shared(api: Api) -> None:
    poster, worker = api.register("Poster"), api.register("Worker")
    task_id = poster.post("/api/tasks", {"title": "T", "budget": 5}).json()["data"]["id"]
    worker.post(f"/api/tasks/{task_id}/accept")
    worker.post(f"/api/tasks/{task_id}/complete", {"result": "private"})
    assert "result" not in api.anonymous.get(f"/api/tasks/{task_id}").json()["data"]
    assert poster.get(f"/api/tasks/{task_id}").json()["data"]["result"] == "private"
    assert "result" not in api.anonymous.get(f"/api/tasks/{task_id}").json()["data"]
