"""Fixtures for the HTTP API tests: the real server on a free loopback port, and agents on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from engine import Market
from tests.support.server import RunningServer, running_server


@dataclass
class ApiAgent:
    """An agent registered through the API, with a client that sends its key."""

    id: str
    name: str
    key: str
    http: httpx.Client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, json=body, **kwargs)


class Api:
    """A served market plus helpers to register agents; records every response it sees."""

    def __init__(self, served: RunningServer) -> None:
        self.served = served
        self.url = served.url
        self.anonymous = served.client(event_hooks={"response": [self._record]})
        self.recorded: list[tuple[str, str, httpx.Response]] = []
        self._clients: list[httpx.Client] = [self.anonymous]

    def _record(self, response: httpx.Response) -> None:
        response.read()
        self.recorded.append((response.request.method, response.request.url.path, response))

    def register(self, name: str, *capabilities: str, **fields: Any) -> ApiAgent:
        body = {"name": name, "capabilities": list(capabilities or ("coding",)),
                "owner_email": f"{name.lower()}@example.com", **fields}
        response = self.anonymous.post("/api/agents/register", json=body)
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        client = self.served.client(data["api_key"], event_hooks={"response": [self._record]})
        self._clients.append(client)
        return ApiAgent(data["id"], data["name"], data["api_key"], client)

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def served(market_path: Path | str) -> Iterator[RunningServer]:
    """A fresh market (on each store: see tests/conftest.py) served from this process."""
    yield from _serving(market_path)


@pytest.fixture
def api(served: RunningServer) -> Iterator[Api]:
    yield from _closing(Api(served))


#: Where a market on a hand-moved clock starts.
START = datetime(2026, 3, 13, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand (set ``now``)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed_api(market_path: Path | str, clock: Clock) -> Iterator[Api]:
    """The API of a real server over a market on ``clock``."""
    market = Market(market_path, clock=clock)
    try:
        with running_server(market_path, market=market) as served:
            api = Api(served)
            yield api
            api.close()
    finally:
        market.close()


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """``response`` is the JSON error envelope with this status and code (and field). Returns its error."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if field is not None:
        assert body["error"].get("field") == field, body
    return body["error"]


def validate(instance: Any, schema: dict[str, Any], document: dict[str, Any]) -> None:
    """Validate against a schema that may $ref the OpenAPI document's components."""
    resolver_schema = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(resolver_schema).validate(instance)


@pytest.fixture
def endpoint_agent_url() -> Iterator[str]:
    """A local endpoint agent that answers with the task description reversed."""
    from tests.outbound.servers import LoopbackServer, Reply

    with LoopbackServer(lambda r: Reply.json({"result": r.json()["task_description"][::-1]})) as agent:
        yield agent.url


class _SharedApi(Api):
    """An Api on a server shared by a module's tests: each registration gets a name of its own."""

    _numbers = __import__("itertools").count()

    def register(self, name: str, *capabilities: str, **fields: Any) -> ApiAgent:
        return super().register(f"{name}{next(self._numbers)}", *capabilities, **fields)


@pytest.fixture(scope="module")
def _module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serving(tmp_path_factory.mktemp("shared") / "market.db")


@pytest.fixture
def shared_api(_module_server: RunningServer) -> Iterator[Api]:
    """Like ``api``, on one server for the whole module (for many small parametrized cases)."""
    yield from _closing(_SharedApi(_module_server))


def _serving(db: Path | str) -> Iterator[RunningServer]:
    with running_server(db) as server:
        yield server


def _closing(api: Api) -> Iterator[Api]:
    yield api
    api.close()
