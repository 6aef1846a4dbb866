"""The seed document's endpoints, fields and Quick Start, against the real server."""

from __future__ import annotations

import re

from .conftest import Api, assert_error

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_quick_start_sequence_with_the_seeds_balances(api: Api) -> None:
    # 1. Register (exactly the seed's curl body).
    response = api.anonymous.post("/api/agents/register", headers={"Content-Type": "application/json"},
                                  content=b'{"name":"MyBot","capabilities":["coding"],"owner_email":"me@example.com"}')
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["balance"] == 100
    assert set(body["data"]) == {"id", "name", "api_key", "capabilities"}
    assert body["data"]["name"] == "MyBot" and body["data"]["capabilities"] == ["coding"]
    assert HEX64.match(body["data"]["api_key"])
    worker_key, worker_id = body["data"]["api_key"], body["data"]["id"]

    poster = api.register("Poster", "coding")
    posted = poster.post("/api/tasks", {"title": "Summarize this research paper", "description": "Full text...",
                                        "budget": 25, "required_capabilities": ["coding"]})
    assert posted.status_code == 201
    assert posted.json()["balance"] == 75
    task = posted.json()["data"]
    assert task["status"] == "open" and task["budget"] == 25

    # 2. Browse available tasks (no key).
    listing = api.anonymous.get("/api/tasks?status=open").json()
    assert listing["success"] is True and "balance" not in listing
    assert [(t["id"], t["title"], t["budget"], t["status"]) for t in listing["data"]] == \
        [(task["id"], "Summarize this research paper", 25, "open")]

    # 3. Accept.
    accepted = api.anonymous.post(f"/api/tasks/{task['id']}/accept", headers={"X-API-Key": worker_key})
    assert accepted.status_code == 200
    assert accepted.json()["data"]["status"] == "assigned"
    assert accepted.json()["data"]["assigned_to"] == worker_id
    assert accepted.json()["balance"] == 100

    # 4. Complete: 90% of 25 rounds down to 22.
    completed = api.anonymous.post(f"/api/tasks/{task['id']}/complete", headers={"X-API-Key": worker_key},
                                   json={"result": "Here is my completed work..."})
    assert completed.status_code == 200
    data = completed.json()["data"]
    assert (data["status"], data["result"]) == ("completed", "Here is my completed work...")
    assert completed.json()["balance"] == 122
    assert poster.get("/api/wallet").json()["data"]["balance"] == 75
    assert api.anonymous.get("/api/stats").json()["data"]["fees_collected"] == 3


def test_direct_execution_quick_start_step(api: Api, endpoint_agent_url: str) -> None:
    caller = api.register("Caller")
    hired = api.register("Hired", endpoint_url=endpoint_agent_url, price_per_task=10)
    response = caller.post("/api/execute", {"agent_id": hired.id, "task_description": "Do this thing",
                                            "budget": 15})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["data"]) == {"task_id", "result"}
    assert body["data"]["result"] == "gniht siht oD"
    assert body["balance"] == 85
    assert hired.get("/api/wallet").json()["balance"] == 113
    task = caller.get(f"/api/tasks/{body['data']['task_id']}").json()["data"]
    assert (task["status"], task["kind"], task["assigned_to"]) == ("completed", "direct", hired.id)


def test_agent_profiles_public_and_private(api: Api) -> None:
    bot = api.register("ResearchBot", "research", "summarization", description="I research topics thoroughly",
                       price_per_task=15, system_prompt="You are a research assistant",
                       webhook_url="https://my-bot.com/webhooks")
    api.register("Coder", "coding")
    public = api.anonymous.get(f"/api/agents/{bot.id}").json()["data"]
    assert {"id", "name", "description", "capabilities", "price_per_task", "reputation_score", "total_tasks",
            "created_at"} <= set(public)
    assert not {"owner_email", "api_key", "system_prompt", "endpoint_url", "webhook_url"} & set(public)
    assert (public["price_per_task"], public["reputation_score"], public["total_tasks"]) == (15, None, 0)

    listing = api.anonymous.get("/api/agents?capability=research&limit=20").json()
    assert [a["name"] for a in listing["data"]] == ["ResearchBot"]
    assert listing["pagination"] == {"limit": 20, "offset": 0, "total": 1, "next_cursor": None}

    me = bot.get("/api/agents/me").json()
    assert me["balance"] == 100
    assert me["data"]["owner_email"] == "researchbot@example.com"
    assert me["data"]["webhook_url"] == "...m/webhooks"


def test_registration_with_a_webhook_shows_its_secret_once(api: Api) -> None:
    response = api.anonymous.post("/api/agents/register", json={
        "name": "Hooked", "capabilities": ["coding"], "owner_email": "h@example.com",
        "webhook_url": "https://my-bot.com/webhooks"})
    data = response.json()["data"]
    assert data["webhook_secret"].startswith("whsec_")
    me = api.anonymous.get("/api/agents/me", headers={"X-API-Key": data["api_key"]}).json()["data"]
    assert "webhook_secret" not in me


def test_webhook_get_and_put_mask_the_url(api: Api) -> None:
    agent = api.register("Hooker")
    # The seed's one field, and (beyond the seed) the webhook's choices.
    assert agent.get("/api/agents/me/webhook").json() == {"success": True, "data": {
        "webhook_url": None, "events": ["task.posted"], "all_tasks": False, "previous_secret_until": None},
        "balance": 100}
    put = agent.http.put("/api/agents/me/webhook",
                         json={"webhook_url": "https://my-agent.com/webhooks/agentmarket"})
    assert put.status_code == 200
    assert put.json()["data"]["webhook_url"] == "...gentmarket"
    assert put.json()["data"]["webhook_secret"].startswith("whsec_")
    assert agent.get("/api/agents/me/webhook").json()["data"]["webhook_url"] == "...gentmarket"
    assert_error(agent.http.put("/api/agents/me/webhook", json={"webhook_url": "http://my-agent.com/x"}),
                 400, "validation_error", "webhook_url")
    cleared = agent.http.put("/api/agents/me/webhook", json={"webhook_url": None})
    assert cleared.json()["data"]["webhook_url"] is None and "webhook_secret" not in cleared.json()["data"]


def test_task_result_only_for_poster_and_assignee(api: Api) -> None:
    poster, worker, other = api.register("P"), api.register("W"), api.register("O")
    task_id = poster.post("/api/tasks", {"title": "T", "budget": 5}).json()["data"]["id"]
    worker.post(f"/api/tasks/{task_id}/accept")
    worker.post(f"/api/tasks/{task_id}/complete", {"result": "secret answer"})
    assert poster.get(f"/api/tasks/{task_id}").json()["data"]["result"] == "secret answer"
    assert worker.get(f"/api/tasks/{task_id}").json()["data"]["result"] == "secret answer"
    assert "result" not in other.get(f"/api/tasks/{task_id}").json()["data"]
    assert "result" not in api.anonymous.get(f"/api/tasks/{task_id}").json()["data"]
    assert other.get(f"/api/tasks/{task_id}").json()["balance"] == 100


def test_wallet_shape(api: Api) -> None:
    agent = api.register("Saver")
    agent.post("/api/tasks", {"title": "T", "budget": 30})
    body = agent.get("/api/wallet").json()
    assert body == {"success": True, "balance": 70, "data": {
        "agent_id": agent.id, "balance": 70, "escrowed": 30, "earned": 0, "spent": 0}}


def test_market_rules_answer_their_status_codes(api: Api) -> None:
    poster, worker = api.register("P", "coding"), api.register("W", "writing")
    task_id = poster.post("/api/tasks", {"title": "T", "budget": 5, "required_capabilities": ["coding"]}
                          ).json()["data"]["id"]
    assert_error(poster.post("/api/tasks", {"title": "T", "budget": 500}), 402, "insufficient_credits")
    assert_error(poster.post(f"/api/tasks/{task_id}/accept"), 403, "own_task")
    assert_error(worker.post(f"/api/tasks/{task_id}/accept"), 403, "missing_capabilities")
    assert_error(worker.post(f"/api/tasks/{task_id}/complete", {"result": "x"}), 409, "invalid_state")
    assert_error(api.anonymous.post("/api/agents/register", json={
        "name": "p", "capabilities": ["x"], "owner_email": "a@b.co"}), 409, "name_taken", "name")
    assert_error(poster.post("/api/execute", {"agent_id": worker.id, "task_description": "x", "budget": 1}),
                 400, "agent_not_executable")
    assert poster.get("/api/wallet").json()["balance"] == 95
