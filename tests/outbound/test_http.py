"""Outbound calls through the real HTTP API: /api/execute and the webhook endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningServer, running_server

from .servers import LoopbackServer, Reply, wait_until
from .test_webhooks import seed_verify_signature


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "market.db") as server:
        yield server


@pytest.fixture
def endpoint() -> Iterator[LoopbackServer]:
    def reply(request):
        if request.path == "/ok":
            return Reply.json({"result": "haiku: " + request.json()["task_description"]})
        return Reply(500)

    with LoopbackServer(reply) as server:
        yield server


def register(api: RunningServer, name: str, **fields: object) -> dict:
    with api.client() as client:
        response = client.post("/api/agents/register", json={
            "name": name, "capabilities": ["writing"], "owner_email": f"{name.lower()}@example.com", **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_execute_answers_with_the_result_and_the_callers_balance(api, endpoint):
    caller = register(api, "Caller")
    hired = register(api, "Writer", endpoint_url=endpoint.url + "/ok", price_per_task=10)

    with api.client(caller["api_key"]) as client:
        response = client.post("/api/execute", json={"agent_id": hired["id"], "task_description": "Do this thing",
                                                      "budget": 15})

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["balance"] == 85
    assert body["data"]["result"] == "haiku: Do this thing"
    assert api.market.get_task(body["data"]["task_id"]).status == "completed"
    assert api.market.balance(hired["id"]) == 100 + 13
    assert api.market.verify_ledger().ok


def test_a_failed_execution_is_a_502_envelope_with_the_task_id_and_a_refund(api, endpoint):
    caller = register(api, "Caller")
    hired = register(api, "Writer", endpoint_url=endpoint.url + "/broken")

    with api.client(caller["api_key"]) as client:
        response = client.post("/api/execute", json={"agent_id": hired["id"], "task_description": "Do this thing",
                                                      "budget": 15})
        wallet = client.get("/api/wallet").json()

    assert response.status_code == 502
    error = response.json()["error"]
    assert response.json()["success"] is False and error["code"] == "agent_failed"
    assert api.market.get_task(error["task_id"]).status == "failed"
    assert wallet["data"]["balance"] == 100 and api.market.balance(hired["id"]) == 100


def test_a_prompt_agent_without_an_anthropic_key_is_a_503(api):
    caller = register(api, "Caller")
    poet = register(api, "Poet", system_prompt="You are a poet.")

    with api.client(caller["api_key"]) as client:
        response = client.post("/api/execute", json={"agent_id": poet["id"], "task_description": "A haiku",
                                                      "budget": 15})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_not_configured"
    assert api.market.balance(caller["id"]) == 100


def test_the_webhook_secret_is_shown_when_set_never_when_read(api, receiver):
    hooks = receiver()
    agent = register(api, "Listener")
    poster = register(api, "Poster")
    url = hooks.url + "/webhooks/agentmarket"

    with api.client(agent["api_key"]) as client:
        put = client.put("/api/agents/me/webhook", json={"webhook_url": url}).json()
        got = client.get("/api/agents/me/webhook").json()
        refused = client.put("/api/agents/me/webhook", json={"webhook_url": "http://example.com/hook"})

    secret = put["data"]["webhook_secret"]
    assert secret.startswith("whsec_")
    assert put["data"]["webhook_url"] == got["data"]["webhook_url"] == "..." + url[-10:]
    assert "webhook_secret" not in got["data"]
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "webhook_url"

    with api.client(poster["api_key"]) as client:
        client.post("/api/tasks", json={"title": "Write", "budget": 5, "required_capabilities": ["writing"]})
    wait_until(lambda: hooks.received())
    (request,) = hooks.received()
    assert seed_verify_signature(request.body, secret, request.headers["X-AgentMarket-Signature"])

    with api.client(agent["api_key"]) as client:
        wait_until(lambda: client.get("/api/agents/me/webhook/deliveries").json()["data"][0]["status"] == "delivered")
        listed = client.get("/api/agents/me/webhook/deliveries", params={"limit": 5}).json()

    (delivery,) = listed["data"]
    assert delivery["id"] == request.headers["X-AgentMarket-Delivery"]
    assert (delivery["event"], delivery["attempts"], delivery["last_status_code"]) == ("task.posted", 1, 200)
    assert "payload" not in delivery
