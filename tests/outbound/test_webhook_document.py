"""The OpenAPI document's ``webhooks`` section is what receivers really get (issue 12, finding 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema

from engine import Market
from engine.server import openapi_document

from .servers import wait_until
from .test_webhooks import post, register


def small_task(market: Market, poster: str, **timers: object) -> str:
    timers = {name: value for name, value in timers.items() if value is not None}
    return market.post_task(poster, title="Small", budget=5, required_capabilities=["coding"], **timers).id


def test_every_webhook_sent_is_documented_with_its_body_and_headers(open_market, receiver, start_worker):
    webhooks = openapi_document()["webhooks"]
    hooks = receiver()
    poster, _ = register(open_market, "Poster", ["coding"], hooks.url + "/poster")
    worker, _ = register(open_market, "Worker", ["coding"], hooks.url + "/worker")
    for agent in (poster, worker):
        open_market.set_webhook(agent, events=sorted(set(webhooks) - {"ping"}))
    done = post(open_market, poster, ["coding"], title="Done")
    open_market.accept_task(done, worker)
    open_market.release_task(done, worker)
    open_market.accept_task(done, worker)
    open_market.complete_task(done, worker, "result")
    open_market.cancel_task(post(open_market, poster, ["coding"], title="Cancelled"), poster)
    judge, _ = register(open_market, "Judge", ["writing"], hooks.url + "/judge")
    for evaluator, settle in ((None, lambda t: open_market.approve_task(t, poster)),
                              (judge, lambda t: (open_market.reject_task(t, poster, "not what I asked"),
                                                 open_market.resolve_task(t, judge, 50, "half of it")))):
        reviewed = small_task(open_market, poster, review_hours=1, evaluator_id=evaluator)
        open_market.accept_task(reviewed, worker)
        open_market.complete_task(reviewed, worker, "a draft")  # submitted
        settle(reviewed)
    open_market.accept_task(small_task(open_market, poster), worker)
    now = datetime.now(UTC)
    open_market.sweep(now + timedelta(days=2))  # the claim window lapses
    open_market.sweep(now + timedelta(days=8))  # the deadline passes
    start_worker(open_market)

    sent = {"task.posted", "task.assigned", "task.released", "task.completed", "task.cancelled", "task.submitted",
            "task.approved", "task.disputed", "task.resolved", "task.claim_expired", "task.expired"}
    wait_until(lambda: {r.headers["X-AgentMarket-Event"] for r in hooks.received()} == sent)
    assert set(webhooks) == sent | {"ping"}  # ping: tests/outbound/test_webhook_management.py
    for request in hooks.received():
        operation = webhooks[request.headers["X-AgentMarket-Event"]]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator(schema).validate(request.json())
        for header in operation["parameters"]:
            assert header["name"] in request.headers, header["name"]
