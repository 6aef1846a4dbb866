"""Endpoints beyond the seed (SPEC §4) and what the HTTP client needs."""

from __future__ import annotations

from .conftest import Api, assert_error


def _post(agent, title: str = "T", budget: int = 10, **fields) -> str:
    response = agent.post("/api/tasks", {"title": title, "budget": budget, **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def test_cancel_refunds_the_poster(api: Api) -> None:
    poster, other = api.register("P"), api.register("O")
    task_id = _post(poster, budget=40)
    assert_error(other.post(f"/api/tasks/{task_id}/cancel"), 403, "not_poster")
    cancelled = poster.post(f"/api/tasks/{task_id}/cancel")
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert cancelled.json()["balance"] == 100
    assert_error(poster.post(f"/api/tasks/{task_id}/cancel"), 409, "invalid_state")


def test_release_reopens_the_task(api: Api) -> None:
    poster, worker = api.register("P"), api.register("W")
    task_id = _post(poster)
    worker.post(f"/api/tasks/{task_id}/accept")
    assert_error(poster.post(f"/api/tasks/{task_id}/release"), 403, "not_assignee")
    released = worker.post(f"/api/tasks/{task_id}/release").json()["data"]
    assert (released["status"], released["assigned_to"], released["escrow"]) == ("open", None, 10)


def test_rate_once_sets_the_reputation(api: Api) -> None:
    poster, worker = api.register("P"), api.register("W")
    task_id = _post(poster)
    assert_error(poster.post(f"/api/tasks/{task_id}/rate", {"rating": 5}), 409, "invalid_state")
    worker.post(f"/api/tasks/{task_id}/accept")
    worker.post(f"/api/tasks/{task_id}/complete", {"result": "done"})
    assert_error(poster.post(f"/api/tasks/{task_id}/rate", {"rating": 6}), 400, "validation_error", "rating")
    assert_error(worker.post(f"/api/tasks/{task_id}/rate", {"rating": 4}), 403, "not_poster")
    assert poster.post(f"/api/tasks/{task_id}/rate", {"rating": 4}).json()["data"]["rating"] == 4
    assert_error(poster.post(f"/api/tasks/{task_id}/rate", {"rating": 4}), 409, "already_rated")
    profile = api.anonymous.get(f"/api/agents/{worker.id}").json()["data"]
    assert (profile["reputation_score"], profile["total_tasks"]) == (4.0, 1)


def test_wallet_transactions_are_paged_newest_first(api: Api) -> None:
    poster = api.register("P")
    for budget in (1, 2, 3):
        _post(poster, budget=budget)
    body = poster.get("/api/wallet/transactions", params={"limit": 2}).json()
    cursor = body["pagination"].pop("next_cursor")
    assert body["pagination"] == {"limit": 2, "offset": 0, "total": 4}
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in body["data"]] == \
        [("escrow", -3, 94), ("escrow", -2, 97)]
    rest = poster.get("/api/wallet/transactions", params={"limit": 2, "offset": 2}).json()["data"]
    assert [t["amount"] for t in rest] == [-1, 100]
    by_cursor = poster.get("/api/wallet/transactions", params={"limit": 2, "cursor": cursor}).json()
    assert by_cursor["data"] == rest
    assert by_cursor["pagination"]["next_cursor"] is None
    assert_error(api.anonymous.get("/api/wallet/transactions"), 401, "auth_required")


def test_rotate_key_replaces_the_key(api: Api) -> None:
    api.served.market.configure(key_grace_seconds=0)  # the old key stops at once
    agent = api.register("Rotator")
    response = agent.post("/api/agents/me/rotate-key")
    new_key = response.json()["data"]["api_key"]
    assert len(new_key) == 64 and new_key != agent.key
    assert response.json()["balance"] == 100
    assert_error(agent.get("/api/wallet"), 401, "invalid_api_key")
    assert api.anonymous.get("/api/wallet", headers={"X-API-Key": new_key}).json()["data"]["agent_id"] == agent.id


def test_patch_me_updates_the_profile(api: Api) -> None:
    agent = api.register("Patchy")
    api.register("Taken")
    response = agent.http.patch("/api/agents/me", json={"description": "new", "price_per_task": 7,
                                                        "capabilities": ["coding", "writing"]})
    assert response.status_code == 200, response.text
    assert (response.json()["data"]["description"], response.json()["data"]["capabilities"]) == \
        ("new", ["coding", "writing"])
    assert_error(agent.http.patch("/api/agents/me", json={"price_per_task": "7"}), 400, "validation_error",
                 "price_per_task")
    assert_error(agent.http.patch("/api/agents/me", json={"name": "TAKEN"}), 409, "name_taken")


def test_health_stats_and_openapi(api: Api) -> None:
    assert api.anonymous.get("/api/health").json() == {"success": True, "data": {"status": "ok"}}
    poster = api.register("P")
    _post(poster, budget=10)
    stats = api.anonymous.get("/api/stats").json()["data"]
    assert stats == {"agents": 1, "tasks": {"open": 1}, "credits_issued": 100, "credits_in_wallets": 90,
                     "credits_in_escrow": 10, "fees_collected": 0, "transfers": 2}
    document = api.anonymous.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")


def test_task_filters_search_order_and_owners(api: Api) -> None:
    poster, worker = api.register("P", "coding"), api.register("W", "coding")
    cheap = _post(poster, "Write a parser", 5, required_capabilities=["coding"])
    dear = _post(poster, "Write docs", 50)
    _post(worker, "Other thing", 20)
    worker.post(f"/api/tasks/{cheap}/accept")

    def ids(**params) -> list[str]:
        return [t["id"] for t in api.anonymous.get("/api/tasks", params=params).json()["data"]]

    assert ids(q="write", order="budget_high") == [dear, cheap]
    assert ids(poster_id=poster.id, order="oldest") == [cheap, dear]
    assert ids(assigned_to=worker.id) == [cheap]
    assert ids(capability="coding") == [cheap]
    assert ids(status="open", poster_id=poster.id) == [dear]
    page = api.anonymous.get("/api/tasks", params={"limit": 1, "offset": 1}).json()
    assert page["pagination"] == {"limit": 1, "offset": 1, "total": 3, "next_cursor": page["pagination"]["next_cursor"]}
    assert_error(api.anonymous.get("/api/tasks", params={"order": "random"}), 400, "validation_error", "order")
    assert_error(api.anonymous.get("/api/tasks", params={"status": "done"}), 400, "validation_error", "status")


def test_timeline_and_event_feed(api: Api) -> None:
    poster, worker = api.register("P"), api.register("W")
    task_id = _post(poster)
    worker.post(f"/api/tasks/{task_id}/accept")
    timeline = api.anonymous.get(f"/api/tasks/{task_id}/timeline").json()["data"]
    assert [e["type"] for e in timeline] == ["task.posted", "task.assigned"]
    events = api.anonymous.get("/api/events").json()["data"]
    assert [e["type"] for e in events] == ["agent.registered", "agent.registered", "task.posted", "task.assigned"]
    after = events[1]["seq"]
    tail = api.anonymous.get("/api/events", params={"after": after, "limit": 1}).json()["data"]
    assert [e["seq"] for e in tail] == [events[2]["seq"]]
    assert_error(api.anonymous.get("/api/events", params={"after": "-1"}), 400, "validation_error", "after")
    assert_error(api.anonymous.get("/api/tasks/nope/timeline"), 404, "not_found")


def test_webhook_deliveries_are_listed(api: Api) -> None:
    listener = api.register("Listener", "coding")
    listener.http.put("/api/agents/me/webhook", json={"webhook_url": "https://127.0.0.1:9/hook"})
    poster = api.register("P", "coding")
    task_id = _post(poster, required_capabilities=["coding"])
    deliveries = listener.get("/api/agents/me/webhook/deliveries", params={"limit": 5}).json()["data"]
    assert [(d["event"], d["agent_id"], d["task_id"]) for d in deliveries] == [("task.posted", listener.id, task_id)]
    assert poster.get("/api/agents/me/webhook/deliveries").json()["data"] == []


def test_failed_execution_is_502_with_the_task_and_a_refund(api: Api) -> None:
    from tests.outbound.servers import LoopbackServer, Reply

    with LoopbackServer(lambda _: Reply(500, b"boom")) as broken:
        caller = api.register("Caller")
        hired = api.register("Broken", endpoint_url=broken.url)
        error = assert_error(caller.post("/api/execute", {"agent_id": hired.id, "task_description": "x",
                                                          "budget": 20}), 502, "agent_failed")
    assert api.anonymous.get(f"/api/tasks/{error['task_id']}").json()["data"]["status"] == "failed"
    assert caller.get("/api/wallet").json()["balance"] == 100


def test_every_answer_to_a_valid_key_carries_the_balance(api: Api) -> None:
    agent = api.register("Holder")
    for response in (agent.get("/api/nope"), agent.http.delete("/api/tasks"), agent.get("/api/tasks/unknown"),
                     agent.post("/api/tasks", {"title": "", "budget": 1}), agent.get("/api/stats")):
        assert response.json()["balance"] == 100, response.text
