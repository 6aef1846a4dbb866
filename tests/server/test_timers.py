"""SPEC §10 over HTTP: the new fields and endpoints, their refusals as envelopes naming the field
with nothing changed, and the running market's sweeps on the market's clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import Market
from engine.runtime import open_market

from .conftest import START, Api, Clock, assert_error

def _unchanged(api: Api) -> Any:
    return api.anonymous.get("/api/stats").json()["data"]


@pytest.mark.parametrize(("body", "field"), [
    ({"deadline": "2026-03-13T11:00:00Z"}, "deadline"),
    ({"deadline": "2026-06-12T12:00:00Z"}, "deadline"),
    ({"deadline": "next tuesday"}, "deadline"),
    ({"claim_seconds": 10}, "claim_seconds"),
    ({"claim_seconds": "600"}, "claim_seconds"),
    ({"review_hours": 1000}, "review_hours"),
    ({"review_hours": 1.5}, "review_hours"),
    ({"evaluator_id": 7}, "evaluator_id"),
])
def test_bad_timers_answer_400_naming_the_field(timed_api: Api, body: dict[str, Any], field: str) -> None:
    poster = timed_api.register("Poster")
    before = _unchanged(timed_api)
    assert_error(poster.post("/api/tasks", {"title": "T", "budget": 5, **body}), 400, "validation_error", field)
    assert _unchanged(timed_api) == before
    assert poster.get("/api/wallet").json()["data"]["balance"] == 100


def test_review_and_dispute_over_http(timed_api: Api, clock: Clock) -> None:
    poster, worker, judge = (timed_api.register(n) for n in ("Poster", "Worker", "Judge"))
    assert_error(poster.post("/api/tasks", {"title": "T", "budget": 5, "evaluator_id": poster.id}), 400,
                 "validation_error", "evaluator_id")
    created = poster.post("/api/tasks", {"title": "Reviewed", "budget": 40, "review_hours": 2,
                                         "evaluator_id": judge.id, "claim_seconds": 600})
    assert created.status_code == 201, created.text
    task = created.json()["data"]
    assert (task["deadline"], task["due_at"], task["review_hours"], task["claim_seconds"]) == \
        ("2026-03-20T12:00:00Z", "2026-03-20T12:00:00Z", 2, 600)
    task_id = task["id"]
    assert_error(judge.post(f"/api/tasks/{task_id}/accept"), 403, "evaluator_cannot_accept", "evaluator_id")
    accepted = worker.post(f"/api/tasks/{task_id}/accept").json()["data"]
    assert accepted["claim_expires_at"] == accepted["due_at"] == "2026-03-13T12:10:00Z"
    submitted = worker.post(f"/api/tasks/{task_id}/complete", {"result": "draft"}).json()["data"]
    assert (submitted["status"], submitted["escrow"], submitted["review_ends_at"]) == \
        ("submitted", 40, "2026-03-13T14:00:00Z")
    assert_error(worker.post(f"/api/tasks/{task_id}/approve"), 403, "not_poster")
    assert_error(poster.post(f"/api/tasks/{task_id}/reject", {}), 400, "validation_error", "reason")
    assert_error(poster.post(f"/api/tasks/{task_id}/resolve", {"worker_share": 50}), 403, "not_evaluator")
    disputed = poster.post(f"/api/tasks/{task_id}/reject", {"reason": "Too short"}).json()["data"]
    assert disputed["status"] == "disputed" and disputed["dispute"]["reason"] == "Too short"
    assert "dispute" not in timed_api.anonymous.get(f"/api/tasks/{task_id}").json()["data"]
    for share in (50.5, True, -1, 101, "50"):
        assert_error(judge.post(f"/api/tasks/{task_id}/resolve", {"worker_share": share}), 400,
                     "validation_error", "worker_share")
    resolved = judge.post(f"/api/tasks/{task_id}/resolve", {"worker_share": 25, "note": "thin"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["data"]["dispute"] == {"reason": "Too short", "worker_share": 25, "note": "thin"}
    assert_error(judge.post(f"/api/tasks/{task_id}/resolve", {"worker_share": 25}), 409, "invalid_state")
    # p = floor(40 * 25 / 100) = 10: the worker 9, the fee 1, the poster 30 back
    assert poster.get("/api/wallet").json()["data"]["balance"] == 100 - 40 + 30
    assert worker.get("/api/wallet").json()["data"]["balance"] == 109
    profile = timed_api.anonymous.get(f"/api/agents/{worker.id}").json()["data"]
    assert (profile["disputes_lost"], profile["missed_claims"], profile["total_tasks"]) == (1, 0, 1)


def test_accept_past_the_deadline_is_409_before_any_sweep(timed_api: Api, clock: Clock) -> None:
    poster, worker = timed_api.register("Poster"), timed_api.register("Worker")
    task_id = poster.post("/api/tasks", {"title": "Soon", "budget": 5, "deadline": "2026-03-13T12:05:00Z"}
                          ).json()["data"]["id"]
    clock.now = START + timedelta(minutes=5)
    assert_error(worker.post(f"/api/tasks/{task_id}/accept"), 409, "task_expired")


def test_the_running_market_applies_lapsed_timers(market_path: Path, clock: Clock) -> None:
    """serve, the terminal app, worker and demo all sweep through open_market's sweep()."""
    with Market(market_path, clock=clock) as market:
        poster = market.register_agent(name="P", capabilities=["x"], owner_email="p@example.com").agent.id
        task_id = market.post_task(poster, title="Soon", budget=5, deadline="2026-03-13T12:05:00Z").id
        with open_market(market, background=False) as running:
            clock.now = START + timedelta(minutes=5)
            running.sweep()
        assert market.get_task(task_id).status == "expired"
        assert market.balance(poster) == 100
