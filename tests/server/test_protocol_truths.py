"""Small protocol truths (issue 12, finding 11): balances on every answer to a valid key,
no 100 Continue for a body that will be refused, webhook hosts validated, one rule for
empty query parameters, and 405 decided before authentication."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.server import MAX_BODY_BYTES
from tests.support.server import running_server

from .conftest import Api, assert_error


@pytest.fixture
def limited_api(market_path: Path) -> Iterator[Api]:
    with running_server(market_path, settings={"rate_limit_per_minute": 2}) as served:
        api = Api(served)
        yield api
        api.close()


def test_a_429_to_a_valid_key_shows_its_balance(limited_api: Api) -> None:
    agent = limited_api.register("Busy")
    for _ in range(2):
        agent.get("/api/wallet")
    response = agent.get("/api/wallet")
    assert_error(response, 429, "rate_limited")
    assert response.json()["balance"] == 100


def test_a_413_to_a_valid_key_shows_its_balance(shared_api: Api) -> None:
    agent = shared_api.register("Big")
    response = agent.http.post("/api/tasks", content=b"x" * (MAX_BODY_BYTES + 1),
                               headers={"Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")
    assert response.json()["balance"] == 100


def test_a_body_too_large_gets_413_without_100_continue(shared_api: Api) -> None:
    host, port = shared_api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /api/tasks HTTP/1.1\r\nHost: market\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {MAX_BODY_BYTES + 1}\r\nExpect: 100-continue\r\n\r\n".encode())
        first_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert first_line == b"HTTP/1.1 413 Request Entity Too Large"


def test_a_body_within_the_limit_still_gets_100_continue(shared_api: Api) -> None:
    host, port = shared_api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/agents/register HTTP/1.1\r\nHost: market\r\nContent-Length: 2\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")


@pytest.mark.parametrize("url", ["https://\u0084", "https://b\u00fccher.example/in", "https://-host/", "https://a..b/",
                                 "https://[zz]/", "https://host:65536/"])
def test_a_webhook_url_needs_a_real_host(shared_api: Api, url: str) -> None:
    agent = shared_api.register("Hooked")
    assert_error(agent.http.put("/api/agents/me/webhook", json={"webhook_url": url}), 400, "validation_error",
                 "webhook_url")
    assert agent.get("/api/agents/me/webhook").json()["data"]["webhook_url"] is None


@pytest.mark.parametrize("query", ["status=", "capability=", "limit=", "offset=", "order=", "q="])
def test_an_empty_query_parameter_is_the_same_as_an_absent_one(shared_api: Api, query: str) -> None:
    poster = shared_api.register("Poster")
    poster.post("/api/tasks", {"title": "Listed", "budget": 5})
    plain = shared_api.anonymous.get("/api/tasks")
    empty = shared_api.anonymous.get(f"/api/tasks?{query}")
    assert empty.status_code == 200, empty.text
    assert empty.json() == plain.json()


def test_405_is_decided_before_authentication_and_allow_lists_the_routes_methods(shared_api: Api) -> None:
    response = shared_api.anonymous.delete("/api/tasks", headers={"X-API-Key": "f" * 64})  # a key that is not valid
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST, GET, HEAD"
    response = shared_api.anonymous.post("/api/health")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD"


def test_raw_surrogate_bytes_are_not_text(shared_api: Api) -> None:
    """JSON text is UTF-8: encoded surrogates (ED A0 80) are refused like escaped ones, never stored."""
    poster = shared_api.register("Poster")
    response = poster.http.post("/api/tasks", content=b'{"title": "\xed\xa0\x80", "budget": 5}',
                                headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json")
    assert poster.get("/api/wallet").json()["data"]["escrowed"] == 0  # nothing was posted
