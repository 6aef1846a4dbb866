"""The transports themselves answer alike: the same status, headers and JSON for raw requests.

These are the error classes a well-behaved client never provokes (bad JSON, a wrong method,
too many query parameters, a missing key, a reused idempotency key, a rate limit), sent
as raw HTTP through each transport.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from agentmarket_tui.client import MarketClient

from .conftest import TRANSPORTS, Connect, run_on_both

#: Headers whose value must match (Date and connection handling are the socket's own).
COMPARED_HEADERS = ("content-type", "cache-control", "allow", "retry-after", "idempotent-replayed")


def raw(client: MarketClient) -> httpx.Client:
    """Plain httpx over the client's transport and address."""
    return httpx.Client(base_url=client.url, transport=client.transport)


def answer(response: httpx.Response) -> dict[str, Any]:
    return {"status": response.status_code, "json": response.json() if response.content else None,
            "headers": {name: response.headers.get(name) for name in COMPARED_HEADERS}}


def raw_requests(connect: Connect) -> dict[str, Any]:
    agent = connect(None)
    agent.register(name="Raw", capabilities=["x"], owner_email="raw@example.com")
    assert agent.api_key
    key = {"X-API-Key": agent.api_key}
    out: dict[str, Any] = {}
    with raw(agent) as http:
        out["wrong method"] = answer(http.delete("/api/tasks"))
        out["unknown route"] = answer(http.get("/api/nowhere", headers=key))
        out["no key"] = answer(http.get("/api/wallet"))
        out["bad json"] = answer(http.post("/api/tasks", content=b"{not json", headers=key))
        out["json not an object"] = answer(http.post("/api/tasks", content=b"[1]", headers=key))
        out["too many query fields"] = answer(http.get("/api/tasks?" + "&".join(f"f{n}=1" for n in range(60))))
        body = {"title": "Once", "description": "", "budget": 2, "required_capabilities": []}
        once = {**key, "Idempotency-Key": "contract-key-1"}
        out["idempotent first"] = answer(http.post("/api/tasks", json=body, headers=once))
        out["idempotent replay"] = answer(http.post("/api/tasks", json=body, headers=once))
        out["idempotent conflict"] = answer(http.post("/api/tasks", json={**body, "budget": 3}, headers=once))
        out["bad idempotency key"] = answer(http.post("/api/tasks", json=body,
                                                      headers={**key, "Idempotency-Key": "x" * 300}))
        out["head"] = answer(http.head("/api/health"))
        out["openapi title"] = http.get("/api/openapi.json").json()["info"]["title"]
    return out


def rate_limited(connect: Connect) -> list[dict[str, Any]]:
    agent = connect(None)
    agent.register(name="Busy", capabilities=["x"], owner_email="busy@example.com")
    assert agent.api_key
    with raw(agent) as http:
        return [answer(http.get("/api/wallet", headers={"X-API-Key": agent.api_key})) for _ in range(4)]


def test_raw_requests_are_answered_alike(tmp_path: Path) -> None:
    outcomes = run_on_both(tmp_path, raw_requests)
    socket, in_process = (outcomes[name] for name in TRANSPORTS)
    for label in socket:
        assert in_process[label] == socket[label], label
    codes = {label: (a["status"], (a["json"] or {}).get("error", {}).get("code"))
             for label, a in socket.items() if isinstance(a, dict)}
    assert codes == {
        "wrong method": (405, "method_not_allowed"), "unknown route": (404, "not_found"),
        "no key": (401, "auth_required"), "bad json": (400, "invalid_json"),
        "json not an object": (400, "invalid_json"), "too many query fields": (400, "bad_request"),
        "idempotent first": (201, None), "idempotent replay": (201, None),
        "idempotent conflict": (409, "idempotency_conflict"), "bad idempotency key": (400, "validation_error"),
        "head": (200, None),
    }
    assert socket["wrong method"]["headers"]["allow"] == "POST, GET, HEAD"  # HEAD is answered as GET
    assert socket["idempotent replay"]["headers"]["idempotent-replayed"] == "true"
    assert socket["idempotent replay"]["json"] == socket["idempotent first"]["json"]
    assert socket["head"]["json"] is None
    assert socket["no key"]["headers"]["content-type"] == "application/json; charset=utf-8"


def test_rate_limits_are_the_same(tmp_path: Path) -> None:
    outcomes = run_on_both(tmp_path, rate_limited, rate_limit_per_minute=3)
    assert outcomes["in_process"] == outcomes["socket"]
    statuses = [a["status"] for a in outcomes["socket"]]
    assert statuses[-1] == 429 and outcomes["socket"][-1]["headers"]["retry-after"]
