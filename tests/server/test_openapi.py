"""The OpenAPI document against the server's real answers: every recorded response fits its schema."""

from __future__ import annotations

import jsonschema

from engine import validation as v
from engine.errors import ERROR_CODES
from engine.event_catalog import PING, WEBHOOK_EVENTS
from engine.server import ROUTES
from engine.server._routes import find_route
from tests.outbound.servers import LoopbackServer, Reply, wait_until

from .conftest import Api, validate


def _exercise_every_route(api: Api, endpoint_url: str, broken_url: str) -> None:
    """Drive every endpoint at least once to success, and many to their refusals."""
    poster = api.register("Poster", "coding", webhook_url="https://127.0.0.1:9/hook")
    worker = api.register("Worker", "coding", description="works", price_per_task=3)
    hired = api.register("Hired", "coding", endpoint_url=endpoint_url)
    broken = api.register("Broken", "coding", endpoint_url=broken_url)
    anonymous = api.anonymous
    anonymous.get("/api/agents/register")
    anonymous.get("/api/agents", params={"capability": "coding", "order": "name", "limit": 2})
    anonymous.get(f"/api/agents/{worker.id}")
    anonymous.get("/api/agents/nobody")
    poster.get("/api/agents/me")
    worker.http.patch("/api/agents/me", json={"description": "better"})
    worker.http.patch("/api/agents/me", json={"price_per_task": -1})
    poster.get("/api/agents/me/webhook")
    poster.http.put("/api/agents/me/webhook", json={"webhook_url": "https://127.0.0.1:9/other"})
    worker.http.put("/api/agents/me/webhook", json={"webhook_url": None})
    first = poster.post("/api/tasks", {"title": "First", "budget": 20, "required_capabilities": ["coding"]},
                        headers={"Idempotency-Key": "k1"}).json()["data"]["id"]
    poster.post("/api/tasks", {"title": "First", "budget": 21}, headers={"Idempotency-Key": "k1"})
    second = poster.post("/api/tasks", {"title": "Second", "budget": 5}).json()["data"]["id"]
    poster.post("/api/tasks", {"title": "Too dear", "budget": 10_000})
    poster.post("/api/tasks", {"title": "", "budget": 5})
    anonymous.post("/api/tasks", json={"title": "x", "budget": 5})
    anonymous.get("/api/tasks", params={"status": "open", "q": "f", "order": "budget_low"})
    worker.get(f"/api/tasks/{first}")
    worker.post(f"/api/tasks/{first}/accept")
    worker.post(f"/api/tasks/{first}/accept")
    worker.post(f"/api/tasks/{first}/release")
    worker.post(f"/api/tasks/{first}/accept")
    worker.post(f"/api/tasks/{first}/complete", {"result": "done"})
    poster.get(f"/api/tasks/{first}")
    poster.post(f"/api/tasks/{first}/rate", {"rating": 5})
    poster.post(f"/api/tasks/{first}/rate", {"rating": 5})
    poster.post(f"/api/tasks/{second}/cancel")
    worker.post(f"/api/tasks/{second}/cancel")
    # SPEC §10: review and disputes, with their refusals.
    judge = api.register("Judge", "coding")
    poster.post("/api/tasks", {"title": "Far", "budget": 10, "deadline": "2099-01-01T00:00:00Z"})
    poster.post("/api/tasks", {"title": "Soon", "budget": 10, "deadline": "2000-01-01T00:00:00Z"})
    for body in ({"title": "R", "budget": 10, "review_hours": 1},
                 {"title": "D", "budget": 10, "review_hours": 1, "evaluator_id": judge.id}):
        task = poster.post("/api/tasks", body).json()["data"]["id"]
        worker.post(f"/api/tasks/{task}/accept")
        worker.post(f"/api/tasks/{task}/complete", {"result": "done"})
        worker.post(f"/api/tasks/{task}/approve")
        if "evaluator_id" in body:
            poster.post(f"/api/tasks/{task}/reject", {"reason": ""})
            poster.post(f"/api/tasks/{task}/reject", {"reason": "wrong"})
            worker.post(f"/api/tasks/{task}/resolve", {"worker_share": 50})
            judge.post(f"/api/tasks/{task}/resolve", {"worker_share": 50.5})
            judge.post(f"/api/tasks/{task}/resolve", {"worker_share": 60, "note": "half right"})
        else:
            poster.post(f"/api/tasks/{task}/approve")
    anonymous.get(f"/api/tasks/{first}/timeline")
    poster.get("/api/agents/me/webhook/deliveries")
    poster.http.patch("/api/agents/me/webhook", json={"events": ["task.posted", "task.assigned"], "all_tasks": True})
    poster.http.patch("/api/agents/me/webhook", json={"events": ["task.nope"]})
    poster.post("/api/agents/me/webhook/rotate-secret")
    worker.post("/api/agents/me/webhook/rotate-secret")
    ping = poster.post("/api/agents/me/webhook/test").json()["data"]["id"]
    worker.post("/api/agents/me/webhook/test")
    poster.post(f"/api/agents/me/webhook/deliveries/{ping}/redeliver")  # still pending: 409
    poster.http.put("/api/agents/me/webhook", json={"webhook_url": None})  # so the worker gives the ping up
    wait_until(lambda: api.served.market.webhook_deliveries(poster.id)[0].status == "failed")
    poster.http.put("/api/agents/me/webhook", json={"webhook_url": "https://127.0.0.1:9/other"})
    poster.post(f"/api/agents/me/webhook/deliveries/{ping}/redeliver")
    poster.post("/api/agents/me/webhook/deliveries/nope/redeliver")
    anonymous.get("/api/events/stream", params={"types": "task.nope"})
    anonymous.get("/api/events/stream", params={"mine": "true"})
    with api.served.client() as plain, plain.stream("GET", "/api/events/stream", params={"after": 0}) as stream:
        api.recorded.append(("GET", "/api/events/stream", stream))
    worker.get("/api/agents/me/tasks", params={"status": "completed", "order": "oldest"})
    anonymous.get("/api/agents/me/tasks")
    poster.get("/api/wallet")
    poster.get("/api/wallet/transactions", params={"limit": 3})
    poster.post("/api/execute", {"agent_id": hired.id, "task_description": "hello", "budget": 5})
    poster.post("/api/execute", {"agent_id": broken.id, "task_description": "hello", "budget": 5})
    poster.post("/api/execute", {"agent_id": worker.id, "task_description": "hello", "budget": 5})
    anonymous.get("/api/events", params={"after": 2})
    anonymous.get("/api/stats")
    anonymous.get("/api/health")
    anonymous.get("/api/openapi.json")
    anonymous.get("/api/wallet", headers={"X-API-Key": "0" * 64})
    anonymous.get("/.well-known/agent-card.json")
    anonymous.get(f"/api/agents/{hired.id}/card")
    anonymous.get(f"/a2a/agents/{hired.id}/.well-known/agent-card.json")
    anonymous.get("/a2a/agents/nobody/.well-known/agent-card.json")
    message = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
               "params": {"message": {"parts": [{"text": "hello"}]}, "metadata": {"budget": 5}}}
    poster.post(f"/a2a/agents/{hired.id}", message)
    poster.post(f"/a2a/agents/{broken.id}", message)
    anonymous.post(f"/a2a/agents/{hired.id}", json=message)
    worker.post("/api/agents/me/rotate-key")


def test_recorded_responses_fit_the_document(api: Api) -> None:
    with LoopbackServer(lambda r: Reply.json({"result": "ok"})) as agent, \
            LoopbackServer(lambda r: Reply(500, b"no")) as failing:
        _exercise_every_route(api, agent.url, failing.url)
    document = api.anonymous.get("/api/openapi.json").json()
    succeeded: set[tuple[str, str]] = set()
    checked = 0
    for method, path, response in api.recorded:
        assert response.status_code < 500 or response.status_code in (502, 503), (method, path, response.text)
        route, _, _ = find_route(method, path)
        assert route is not None, (method, path)
        responses = document["paths"][route.path][method.lower()]["responses"]
        if route.streamed and response.status_code == 200:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "text/event-stream" in responses["200"]["content"]
            succeeded.add((route.method, route.path))
            continue
        assert str(response.status_code) in responses, (method, path, response.status_code, response.text)
        schema = responses[str(response.status_code)]["content"]["application/json"]["schema"]
        validate(response.json(), schema, document)
        checked += 1
        if response.status_code < 300:
            succeeded.add((route.method, route.path))
    assert succeeded == {(r.method, r.path) for r in ROUTES}
    assert checked > 40


def test_document_lists_every_route_schema_and_error_code(api: Api) -> None:
    document = api.anonymous.get("/api/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    operations = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert operations == {(r.method, r.path) for r in ROUTES}
    for name, schema in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    for name, schema in v.SCHEMAS.items():
        assert document["components"]["schemas"][name]["properties"] == schema.json_schema()["properties"]
    documented = {code for item in document["paths"].values() for op in item.values()
                  for response in op["responses"].values()
                  for code in response["content"].get("application/json", {}).get("schema", {})
                  .get("properties", {}).get("error", {}).get("properties", {}).get("code", {}).get("enum", [])}
    # 405 answers paths no operation has (it names the ones allowed in Allow).
    assert set(ERROR_CODES) - documented == {"method_not_allowed"}
    assert set(document["webhooks"]) == {*WEBHOOK_EVENTS, PING}
    for event, item in document["webhooks"].items():
        body = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator.check_schema(body)
        assert body["properties"]["event"] == {"const": event}
    post_task = document["paths"]["/api/tasks"]["post"]
    assert post_task["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TaskPost"}
    assert any(p["name"] == "Idempotency-Key" for p in post_task["parameters"])
    assert post_task["security"] == [{"apiKey": []}]
