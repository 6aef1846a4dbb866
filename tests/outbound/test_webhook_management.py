"""Webhooks an agent manages through the API: event choices, all_tasks, secret rotation (checked
with the ``standardwebhooks`` library), the test ping and redelivery, against real HTTPS receivers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import standardwebhooks

from engine import Market
from tests.server.conftest import assert_error
from tests.support.server import RunningServer, running_server

from .servers import Reply, scripted, wait_until


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "market.db") as server:
        yield server


def _agent(served: RunningServer, name: str, capabilities: list[str], webhook_url: str | None = None
           ) -> tuple[httpx.Client, str, str]:
    """Register through the API; returns a client sending the key, the agent's id and its webhook secret."""
    body = {"name": name, "capabilities": capabilities, "owner_email": f"{name.lower()}@example.com",
            "webhook_url": webhook_url}
    data = httpx.post(f"{served.url}/api/agents/register", json=body).json()["data"]
    return served.client(data["api_key"]), data["id"], data.get("webhook_secret", "")


def _seed_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_rotated_secret_keeps_signing_beside_the_new_one(served, receiver):
    hooks = receiver()
    client, agent_id, old = _agent(served, "Rotator", ["coding"], hooks.url + "/hook")
    rotated = client.post("/api/agents/me/webhook/rotate-secret")
    assert rotated.status_code == 200
    data = rotated.json()["data"]
    new = data["webhook_secret"]
    assert new.startswith("whsec_") and new != old
    assert datetime.fromisoformat(data["previous_secret_until"]) > datetime.now(UTC) + timedelta(hours=23)
    assert "webhook_secret" not in client.get("/api/agents/me/webhook").json()["data"]  # shown once

    assert client.post("/api/agents/me/webhook/test").status_code == 202
    (request,) = wait_until(lambda: hooks.received())
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):  # either secret verifies: receivers can switch over at their own pace
        assert standardwebhooks.Webhook(secret).verify(request.body, headers) == request.json()
    assert headers["x-agentmarket-signature"] == _seed_signature(new, request.body)  # the seed's: the new one
    assert request.json()["event"] == "ping" and request.json()["agent_id"] == agent_id


def test_a_secret_rotated_over_24_hours_ago_no_longer_signs(tmp_path, receiver, start_worker):
    hooks = receiver()
    yesterday = Market(tmp_path / "m.db", clock=lambda: datetime.now(UTC) - timedelta(hours=24, seconds=5))
    yesterday.configure(allow_private_urls=True)
    reg = yesterday.register_agent(name="Old", capabilities=["coding"], owner_email="o@example.com",
                                   webhook_url=hooks.url + "/hook")
    new = yesterday.rotate_webhook_secret(reg.agent.id).secret
    yesterday.test_webhook(reg.agent.id)
    start_worker(yesterday)
    (request,) = wait_until(lambda: hooks.received())
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert " " not in headers["webhook-signature"]
    standardwebhooks.Webhook(new).verify(request.body, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(reg.webhook_secret).verify(request.body, headers)
    yesterday.close()


def test_redelivery_sends_the_same_delivery_again(served, receiver):
    hooks = receiver(scripted(Reply(410), Reply(200)))  # 410 fails it (and turns the webhook off)
    client, agent_id, secret = _agent(served, "Again", ["coding"], hooks.url + "/hook")
    ping = client.post("/api/agents/me/webhook/test").json()["data"]
    wait_until(lambda: client.get("/api/agents/me/webhook/deliveries").json()["data"][0]["status"] == "failed")
    assert_error(client.post(f"/api/agents/me/webhook/deliveries/{ping['id']}/redeliver"), 409, "no_webhook")
    client.put("/api/agents/me/webhook", json={"webhook_url": hooks.url + "/hook"})

    again = client.post(f"/api/agents/me/webhook/deliveries/{ping['id']}/redeliver")
    assert again.status_code == 202 and again.json()["data"]["id"] == ping["id"]
    wait_until(lambda: client.get("/api/agents/me/webhook/deliveries").json()["data"][0]["status"] == "delivered")
    first, second = hooks.received()
    assert first.body == second.body and first.headers["webhook-id"] == second.headers["webhook-id"] == ping["id"]
    standardwebhooks.Webhook(secret).verify(second.body, {k.lower(): v for k, v in second.headers.items()})
    assert [a.status_code for a in served.market.outbox.attempts(ping["id"])] == [410, 200]


def test_an_agent_hears_only_the_events_it_chose(served, receiver):
    hooks = receiver()
    poster, _, _ = _agent(served, "Poster", ["research"], hooks.url + "/poster")
    worker, _, _ = _agent(served, "Worker", ["coding"])
    chosen = poster.patch("/api/agents/me/webhook", json={"events": ["task.completed"]})
    assert chosen.json()["data"]["events"] == ["task.completed"]
    task = poster.post("/api/tasks", json={"title": "T", "budget": 5, "required_capabilities": ["coding"]})
    task_id = task.json()["data"]["id"]
    worker.post(f"/api/tasks/{task_id}/accept")
    worker.post(f"/api/tasks/{task_id}/complete", json={"result": "done"})
    wait_until(lambda: hooks.received())  # one agent's deliveries go in order: an assigned would come first
    assert [r.json()["event"] for r in hooks.received()] == ["task.completed"]


def test_all_tasks_agents_hear_of_tasks_needing_no_capability(served, receiver):
    hooks = receiver()
    poster, _, _ = _agent(served, "Poster", ["research"])
    watcher, _, _ = _agent(served, "Watcher", ["translation"], hooks.url + "/watcher")
    _agent(served, "Matcher", ["coding"], hooks.url + "/matcher")
    watcher.patch("/api/agents/me/webhook", json={"all_tasks": True})
    poster.post("/api/tasks", json={"title": "Anything", "budget": 5})  # no required capability
    poster.post("/api/tasks", json={"title": "Code", "budget": 5, "required_capabilities": ["coding"]})
    wait_until(lambda: len(hooks.received()) == 3)
    by_path = sorted((r.path, r.json()["task"]["title"]) for r in hooks.received())
    assert by_path == [("/matcher", "Code"), ("/watcher", "Anything"), ("/watcher", "Code")]


def test_bad_webhook_requests_are_refused_naming_the_problem(served):
    client, _, _ = _agent(served, "Plain", ["coding"])
    other, _, _ = _agent(served, "Other", ["coding"], "https://127.0.0.1:9/hook")
    assert_error(client.patch("/api/agents/me/webhook", json={"events": ["task.exploded"]}), 400,
                 "validation_error", "events")
    assert_error(client.patch("/api/agents/me/webhook", json={"events": "task.posted"}), 400,
                 "validation_error", "events")
    assert_error(client.patch("/api/agents/me/webhook", json={"all_tasks": "yes"}), 400, "validation_error",
                 "all_tasks")
    assert_error(client.put("/api/agents/me/webhook", json={"events": ["task.posted"]}), 400, "validation_error",
                 "webhook_url")
    assert_error(client.post("/api/agents/me/webhook/rotate-secret"), 409, "no_webhook")
    assert_error(client.post("/api/agents/me/webhook/test"), 409, "no_webhook")
    ping = other.post("/api/agents/me/webhook/test").json()["data"]["id"]
    assert_error(client.post(f"/api/agents/me/webhook/deliveries/{ping}/redeliver"), 404, "not_found")
    assert_error(httpx.post(f"{served.url}/api/agents/me/webhook/test"), 401, "auth_required")
    assert client.get("/api/agents/me/webhook").json()["data"]["events"] == ["task.posted"]  # nothing changed

