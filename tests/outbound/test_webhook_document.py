"""The OpenAPI document's ``webhooks`` section is what receivers really get (issue 12, finding 12)."""

from __future__ import annotations

import jsonschema

from engine.server import openapi_document

from .servers import wait_until
from .test_webhooks import post, register


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
    start_worker(open_market)

    sent = {"task.posted", "task.assigned", "task.released", "task.completed", "task.cancelled"}
    wait_until(lambda: {r.headers["X-AgentMarket-Event"] for r in hooks.received()} == sent)
    assert set(webhooks) == sent | {"ping"}  # ping: tests/outbound/test_webhook_management.py
    for request in hooks.received():
        operation = webhooks[request.headers["X-AgentMarket-Event"]]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator(schema).validate(request.json())
        for header in operation["parameters"]:
            assert header["name"] in request.headers, header["name"]
