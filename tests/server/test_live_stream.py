"""The live event stream, ``GET /api/events/stream``, read with httpx streaming from a real server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.outbound.servers import wait_until
from tests.support.server import RunningServer, running_server

from .conftest import assert_error


@pytest.fixture
def served(market_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setenv("AGENTMARKET_STREAM_HEARTBEAT", "0.2")
    monkeypatch.setenv("AGENTMARKET_MAX_STREAMS", "2")
    with running_server(market_path) as server:
        yield server


def _register(served: RunningServer, name: str, *capabilities: str) -> tuple[str, str]:
    body = {"name": name, "capabilities": list(capabilities or ("coding",)), "owner_email": f"{name}@example.com"}
    data = httpx.post(f"{served.url}/api/agents/register", json=body).json()["data"]
    return data["id"], data["api_key"]


def _post(served: RunningServer, key: str, title: str, capabilities: tuple[str, ...] = ()) -> str:
    response = httpx.post(f"{served.url}/api/tasks", headers={"X-API-Key": key},
                          json={"title": title, "budget": 5, "required_capabilities": list(capabilities)})
    return response.json()["data"]["id"]


def _messages(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Each SSE message (comments as {"comment": text}), as the lines come."""
    message: dict[str, Any] = {}
    for line in lines:
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
        elif line:
            name, _, value = line.partition(": ")
            message[name] = value
        elif message:
            yield message
            message = {}


def _events(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    found = []
    for message in _messages(lines):
        if "data" in message:
            found.append(message)
            if len(found) == count:
                return found
    raise AssertionError("the stream ended early")


def test_events_arrive_as_they_are_committed_with_their_seq_as_id(served: RunningServer) -> None:
    _, key = _register(served, "poster")
    with httpx.stream("GET", f"{served.url}/api/events/stream", timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        lines = stream.iter_lines()
        assert next(lines).startswith("retry: ")  # sent at once: the client knows it is connected
        task_id = _post(served, key, "Live")
        served.market.post_task(served.market.authenticate(key).id, title="Straight to the engine", budget=1)
        first, second = _events(lines, 2)
    data = json.loads(first["data"])
    assert first["event"] == "task.posted" == data["type"] and data["task_id"] == task_id
    assert first["id"] == str(data["seq"]) and int(second["id"]) == data["seq"] + 1
    assert json.loads(second["data"])["data"]["title"] == "Straight to the engine"


def test_last_event_id_resumes_after_what_was_missed(served: RunningServer) -> None:
    _, key = _register(served, "poster")
    first = _post(served, key, "One")
    seen = served.market.events(0, 1000)[-1].seq
    missed = [_post(served, key, "Two"), _post(served, key, "Three")]
    with httpx.stream("GET", f"{served.url}/api/events/stream", headers={"Last-Event-ID": str(seen)},
                      timeout=10) as stream:
        events = _events(stream.iter_lines(), 2)
    assert [json.loads(e["data"])["task_id"] for e in events] == missed
    assert first not in missed


def test_filters_by_type_and_by_mine(served: RunningServer) -> None:
    me, my_key = _register(served, "me", "coding")
    _, other_key = _register(served, "other", "coding")
    with httpx.stream("GET", f"{served.url}/api/events/stream", params={"mine": "true", "types": "task.assigned"},
                      headers={"X-API-Key": my_key}, timeout=10) as stream:
        _post(served, other_key, "Not mine")
        theirs = _post(served, other_key, "Theirs, taken by someone else")
        mine = _post(served, my_key, "Mine")
        httpx.post(f"{served.url}/api/tasks/{theirs}/accept", headers={"X-API-Key": my_key})
        _, third_key = _register(served, "third", "coding")
        httpx.post(f"{served.url}/api/tasks/{mine}/accept", headers={"X-API-Key": third_key})
        events = [json.loads(e["data"]) for e in _events(stream.iter_lines(), 2)]
    assert [(e["type"], e["task_id"]) for e in events] == [("task.assigned", theirs), ("task.assigned", mine)]
    assert events[0]["agent_id"] == me


def test_a_quiet_stream_sends_heartbeats(served: RunningServer) -> None:
    with httpx.stream("GET", f"{served.url}/api/events/stream", timeout=10) as stream:
        comments = (m["comment"] for m in _messages(stream.iter_lines()) if "comment" in m)
        assert next(c for c in comments if c == "heartbeat")


def test_streams_are_bounded_and_a_closed_one_frees_its_place(served: RunningServer) -> None:
    live = served.server.dispatcher.live
    with httpx.Client(base_url=served.url, timeout=10) as client:
        with client.stream("GET", "/api/events/stream"), client.stream("GET", "/api/events/stream"):
            wait_until(lambda: live.open_streams == 2)
            refused = client.get("/api/events/stream")
            assert_error(refused, 503, "service_unavailable")
            assert refused.headers["retry-after"] == "5"
        wait_until(lambda: live.open_streams == 0)  # the server notices the readers left
        with client.stream("GET", "/api/events/stream") as again:
            assert again.status_code == 200


def test_a_reader_that_leaves_frees_its_place_before_any_heartbeat(market_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTMARKET_STREAM_HEARTBEAT", "3600")
    with running_server(market_path) as served:
        live = served.server.dispatcher.live
        with httpx.stream("GET", f"{served.url}/api/events/stream", timeout=10) as stream:
            next(stream.iter_lines())
            assert live.open_streams == 1
        wait_until(lambda: live.open_streams == 0)  # an hour before the first heartbeat would find out


def test_a_reader_that_stops_reading_is_dropped(served: RunningServer) -> None:
    live = served.server.dispatcher.live
    live.write_timeout = 0.5
    _, key = _register(served, "poster")
    poster = served.market.authenticate(key).id
    for n in range(300):  # 600 events: far more than a stream's socket buffers hold (~64 KiB + the reader's 4 KiB)
        task = served.market.post_task(poster, title=f"Task {n} " + "x" * 180, budget=1)
        served.market.cancel_task(task.id, poster)
    reader = socket.create_connection(("127.0.0.1", served.server.port))
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.sendall(b"GET /api/events/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n")
    try:
        wait_until(lambda: live.open_streams == 1)
        wait_until(lambda: live.open_streams == 0)  # it never read: dropped, its memory never grew
    finally:
        reader.close()


@pytest.mark.parametrize(("params", "headers", "status", "code", "field"), [
    ({"types": "task.posted,task.exploded"}, {}, 400, "validation_error", "types"),
    ({"types": ",".join(["task.posted"] * 51)}, {}, 400, "validation_error", "types"),
    ({"mine": "maybe"}, {}, 400, "validation_error", "mine"),
    ({"mine": "true"}, {}, 401, "auth_required", None),
    ({"after": "-1"}, {}, 400, "validation_error", "after"),
    ({}, {"Last-Event-ID": "seven"}, 400, "validation_error", "Last-Event-ID"),
    ({}, {"X-API-Key": "0" * 64}, 401, "invalid_api_key", None),
])
def test_bad_stream_requests_get_the_error_envelope(served: RunningServer, params: dict[str, str],
                                                    headers: dict[str, str], status: int, code: str,
                                                    field: str | None) -> None:
    response = httpx.get(f"{served.url}/api/events/stream", params=params, headers=headers, timeout=10)
    assert_error(response, status, code, field)
    assert served.server.dispatcher.live.open_streams == 0


def test_a_stopping_server_ends_its_streams(market_path: Path) -> None:
    with running_server(market_path) as served, \
            httpx.stream("GET", f"{served.url}/api/events/stream", timeout=10) as stream:
        lines = stream.iter_lines()
        next(lines)
        served.server.stop(grace=5.0)
        assert list(lines) is not None  # the body ends instead of hanging
