"""Webhook delivery end to end: the outbox, the worker, a real HTTPS receiver (SPEC §7)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest
import standardwebhooks

from engine import Market, views

from .servers import Reply, scripted, wait_until

SEED_PAYLOAD_KEYS = {"event", "task", "marketplace_url"}
SEED_TASK_KEYS = {"id", "title", "description", "budget", "required_capabilities", "created_at"}


def seed_verify_signature(body: bytes, secret: str, signature_header: str) -> bool:
    """The seed's verifySignature, line for line (including its plain ``===``)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return expected == signature_header


def register(market: Market, name: str, capabilities: list[str], webhook_url: str | None = None) -> tuple[str, str]:
    reg = market.register_agent(name=name, capabilities=capabilities, owner_email=f"{name.lower()}@example.com",
                                webhook_url=webhook_url)
    return reg.agent.id, reg.webhook_secret or ""


def post(market: Market, poster: str, capabilities: list[str], title: str = "Summarize this paper") -> str:
    return market.post_task(poster, title=title, description="Full text...", budget=25,
                            required_capabilities=capabilities).id


def test_task_posted_reaches_only_matching_agents_signed_as_the_seed_shows(open_market, receiver, start_worker):
    hooks = receiver()
    poster, _ = register(open_market, "Poster", ["research"], hooks.url + "/poster")
    researcher, research_secret = register(open_market, "Researcher", ["research"], hooks.url + "/researcher")
    summarizer, summary_secret = register(open_market, "Summarizer", ["summarization", "x"], hooks.url + "/summarizer")
    register(open_market, "Coder", ["coding"], hooks.url + "/coder")
    register(open_market, "Silent", ["research"])  # matches, but has no webhook
    task_id = post(open_market, poster, ["research", "summarization"])

    start_worker(open_market)
    wait_until(lambda: all(open_market.webhook_deliveries(a)[0].status == "delivered" for a in (researcher, summarizer)))

    assert sorted(r.path for r in hooks.received()) == ["/researcher", "/summarizer"]
    for agent_id, secret, path in ((researcher, research_secret, "/researcher"),
                                   (summarizer, summary_secret, "/summarizer")):
        (request,) = hooks.received(path)
        (delivery,) = open_market.webhook_deliveries(agent_id)
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert request.method == "POST"
        assert headers["content-type"] == "application/json"
        assert headers["x-agentmarket-event"] == "task.posted"
        assert seed_verify_signature(request.body, secret, headers["x-agentmarket-signature"])
        assert standardwebhooks.Webhook(secret).verify(request.body, headers) == request.json()
        assert headers["x-agentmarket-delivery"] == headers["webhook-id"] == delivery.id
        assert headers["x-agentmarket-timestamp"] == headers["webhook-timestamp"]
        payload = request.json()
        assert set(payload) == SEED_PAYLOAD_KEYS and set(payload["task"]) == SEED_TASK_KEYS
        assert payload["event"] == "task.posted"
        assert payload["task"]["id"] == task_id
        assert payload["task"]["required_capabilities"] == ["research", "summarization"]
        assert payload["task"]["budget"] == 25
        assert payload["marketplace_url"] == open_market.settings.public_url
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_two_failures_then_success_is_delivered_on_the_third_attempt_with_one_delivery_id(
    open_market, receiver, start_worker
):
    hooks = receiver(scripted(Reply(500), Reply(500), Reply(200)))
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, secret = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    post(open_market, poster, ["coding"])

    start_worker(open_market)
    wait_until(lambda: open_market.webhook_deliveries(agent)[0].status == "delivered")

    requests = hooks.received()
    assert len(requests) == 3
    assert len({r.headers["X-AgentMarket-Delivery"] for r in requests}) == 1
    assert all(seed_verify_signature(r.body, secret, r.headers["X-AgentMarket-Signature"]) for r in requests)
    (delivery,) = open_market.webhook_deliveries(agent)
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (3, 200, None)
    attempts = open_market.outbox.attempts(delivery.id)
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[0].error == "HTTP 500" and attempts[2].error is None
    assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in attempts)


def test_after_the_last_attempt_the_delivery_is_failed_and_kept(open_market, receiver, start_worker):
    hooks = receiver(scripted(Reply(503)))
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    post(open_market, poster, ["coding"])

    start_worker(open_market, max_attempts=3)
    wait_until(lambda: open_market.webhook_deliveries(agent)[0].status == "failed")

    (delivery,) = open_market.webhook_deliveries(agent)
    assert (delivery.attempts, delivery.last_status_code) == (3, 503)
    assert len(open_market.outbox.attempts(delivery.id)) == len(hooks.received()) == 3


def test_a_redirect_is_a_failure_and_is_not_followed(open_market, receiver, start_worker):
    hooks = receiver(lambda r: Reply(200) if r.path == "/elsewhere" else Reply(302, headers={"Location": "/elsewhere"}))
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    post(open_market, poster, ["coding"])

    start_worker(open_market, max_attempts=2)
    wait_until(lambda: open_market.webhook_deliveries(agent)[0].status == "failed")

    assert hooks.received("/elsewhere") == []
    (delivery,) = open_market.webhook_deliveries(agent)
    assert delivery.last_status_code == 302 and "redirect" in delivery.last_error


def test_410_gone_turns_the_agents_webhook_off(open_market, receiver, start_worker):
    hooks = receiver(scripted(Reply(410)))
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    post(open_market, poster, ["coding"])

    start_worker(open_market)
    wait_until(lambda: open_market.webhook_deliveries(agent)[0].status == "failed")

    assert open_market.get_agent(agent).webhook_url is None
    assert open_market.webhook_deliveries(agent)[0].attempts == 1
    assert "webhook.disabled" in [e.type for e in open_market.recent_events()]
    post(open_market, poster, ["coding"], title="Another")
    assert len(open_market.webhook_deliveries(agent)) == 1  # no more deliveries queued for it


def test_retry_after_is_honoured(open_market, receiver, start_worker):
    hooks = receiver(scripted(Reply(503, headers={"Retry-After": "1"}), Reply(200)))
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    post(open_market, poster, ["coding"])

    start_worker(open_market)
    wait_until(lambda: open_market.webhook_deliveries(agent)[0].status == "delivered")

    first, second = hooks.received()
    assert second.at - first.at >= 0.9  # the base backoff is 0.05 s; only Retry-After explains this


def test_poster_hears_of_its_task_being_assigned_and_completed(open_market, receiver, start_worker):
    hooks = receiver()
    poster, secret = register(open_market, "Poster", ["research"], hooks.url + "/poster")
    open_market.set_webhook(poster, events=["task.posted", "task.assigned", "task.completed"])
    worker, _ = register(open_market, "Worker", ["coding"])
    task_id = post(open_market, poster, ["coding"])
    open_market.accept_task(task_id, worker)
    open_market.complete_task(task_id, worker, "done")

    start_worker(open_market)
    wait_until(lambda: len(hooks.received()) == 2)

    events = {r.json()["event"]: r for r in hooks.received()}
    assert set(events) == {"task.assigned", "task.completed"}
    completed = events["task.completed"]
    assert completed.headers["X-AgentMarket-Event"] == "task.completed"
    assert seed_verify_signature(completed.body, secret, completed.headers["X-AgentMarket-Signature"])
    assert completed.json()["task"]["status"] == "completed"
    assert completed.json()["task"]["assigned_to"] == worker


def test_an_agent_whose_endpoint_hangs_does_not_hold_up_the_others(open_market, receiver, start_worker):
    stuck = receiver(lambda _: Reply(200, delay=30))  # answers only when the test ends
    healthy = receiver()
    poster, _ = register(open_market, "Poster", ["coding"])
    slow, _ = register(open_market, "Slow", ["coding"], stuck.url + "/hook")
    fast, _ = register(open_market, "Fast", ["coding"], healthy.url + "/hook")
    for n in range(3):
        post(open_market, poster, ["coding"], title=f"Task {n}")

    start_worker(open_market, timeout=5.0)
    wait_until(lambda: [d.status for d in open_market.webhook_deliveries(fast)] == ["delivered"] * 3)

    assert len(stuck.received()) == 1  # its first attempt is still hanging
    assert all(d.status == "pending" for d in open_market.webhook_deliveries(slow))


def test_a_certificate_the_worker_does_not_trust_is_a_failure(open_market, receiver, start_worker, monkeypatch):
    import trustme

    other_ca = trustme.CA()
    with other_ca.cert_pem.tempfile() as untrusted_bundle:
        monkeypatch.setenv("SSL_CERT_FILE", untrusted_bundle)
        hooks = receiver()
        poster, _ = register(open_market, "Poster", ["coding"])
        agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
        post(open_market, poster, ["coding"])
        start_worker(open_market, max_attempts=1)
        wait_until(lambda: open_market.webhook_deliveries(agent)[0].status == "failed")

    (delivery,) = open_market.webhook_deliveries(agent)
    assert delivery.last_status_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert all(not r.body for r in hooks.received())  # nothing readable reached it


def test_the_worker_refuses_to_connect_to_loopback_unless_allowed(open_market, receiver, start_worker):
    hooks = receiver()
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")  # stored while allowed
    post(open_market, poster, ["coding"])
    open_market.allow_private_urls = False

    start_worker(open_market, max_attempts=1)
    wait_until(lambda: open_market.webhook_deliveries(agent)[0].status == "failed")

    assert hooks.received() == []
    last_error = open_market.webhook_deliveries(agent)[0].last_error
    assert "the address is not allowed" in last_error
    assert "127.0.0.1" not in last_error  # what the name resolves to stays in the server log


@pytest.mark.sqlite_only  # on PostgreSQL every worker delivers: the test below
def test_only_one_worker_delivers_at_a_time_and_another_takes_over(open_market, market_path, receiver, start_worker):
    hooks = receiver()
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    second_market = Market(market_path, allow_private_urls=True)
    second = None
    try:
        first = start_worker(open_market)
        wait_until(lambda: first.is_leader)
        second = start_worker(second_market)
        for n in range(3):
            post(open_market, poster, ["coding"], title=f"Task {n}")
        wait_until(lambda: len(hooks.received()) == 3)
        assert not second.is_leader

        first.stop()
        wait_until(lambda: second.is_leader)
        post(open_market, poster, ["coding"], title="After the handover")
        wait_until(lambda: len(hooks.received()) == 4)
    finally:
        if second is not None:
            second.stop()  # lets its last attempt record "delivered" before its market closes
        second_market.close()

    wait_until(lambda: {d.status for d in open_market.webhook_deliveries(agent)} == {"delivered"})
    ids = [r.headers["X-AgentMarket-Delivery"] for r in hooks.received()]
    assert len(ids) == len(set(ids)) == 4  # each delivered once


@pytest.mark.postgres
def test_on_postgresql_every_worker_delivers_and_each_delivery_goes_once(market_database, receiver, start_worker):
    hooks = receiver(lambda _: Reply(200, delay=0.05))
    markets = [Market(market_database, allow_private_urls=True) for _ in range(2)]
    try:
        poster, _ = register(markets[0], "Poster", ["coding"])
        agents = [register(markets[0], f"Worker{n}", ["coding"], hooks.url + f"/hook/{n}")[0] for n in range(4)]
        workers = [start_worker(market) for market in markets]
        wait_until(lambda: all(worker.is_leader for worker in workers))
        for n in range(3):  # the poster's 100 credits: 4 posts of 25
            post(markets[0], poster, ["coding"], title=f"Task {n}")
        wait_until(lambda: len(hooks.received()) == 12, timeout=60)
        workers[0].stop()
        post(markets[0], poster, ["coding"], title="After one stopped")
        wait_until(lambda: len(hooks.received()) == 16, timeout=60)
        wait_until(lambda: {d.status for a in agents for d in markets[0].webhook_deliveries(a, 100)} == {"delivered"})
        with markets[0].outbox._ctx.store.read() as tx:
            claimers = {row[0] for row in tx.conn.execute("SELECT DISTINCT claimed_by FROM webhook_deliveries")}
    finally:
        for worker in workers:
            worker.stop()
        for market in markets:
            market.close()
    ids = [r.headers["X-AgentMarket-Delivery"] for r in hooks.received()]
    assert len(ids) == len(set(ids)) == 16  # each delivered once
    assert claimers == {worker.holder for worker in workers}  # both workers delivered


def test_a_stopping_worker_hands_its_unsettled_claim_back_at_once(open_market, receiver, start_worker):
    reached = threading.Event()

    def hang_until_released(_: object) -> Reply:
        reached.set()
        hooks.release.wait(30)
        return Reply(200)

    hooks = receiver(hang_until_released)
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    worker = start_worker(open_market)
    post(open_market, poster, ["coding"])
    wait_until(reached.is_set)
    try:
        worker.stop(grace=0.1)  # its attempt still hangs at the receiver
        due = open_market.outbox.next_due_at()
        assert due is not None and due <= time.time()  # due again now, not when the claim would run out
        (delivery,) = open_market.webhook_deliveries(agent)
        assert (delivery.status, delivery.attempts) == ("pending", 1)
    finally:
        hooks.release.set()


def test_delivery_list_is_newest_first_and_bounded(open_market, receiver):
    hooks = receiver()
    poster, _ = register(open_market, "Poster", ["coding"])
    agent, _ = register(open_market, "Worker", ["coding"], hooks.url + "/hook")
    task_ids = [post(open_market, poster, ["coding"], title=f"Task {n}") for n in range(3)]

    deliveries = open_market.webhook_deliveries(agent, limit=2)

    assert [d.task_id for d in deliveries] == task_ids[:0:-1]
    assert all((d.event, d.status, d.attempts) == ("task.posted", "pending", 0) for d in deliveries)
    shown = json.loads(json.dumps([views.delivery(d) for d in deliveries]))
    assert shown[0]["id"] == deliveries[0].id and "payload" not in shown[0]


@pytest.mark.parametrize("limit", [0, 101, "x"])
def test_delivery_list_refuses_a_bad_limit(open_market, limit):
    from engine.errors import ValidationError

    agent, _ = register(open_market, "Worker", ["coding"])
    with pytest.raises(ValidationError):
        open_market.webhook_deliveries(agent, limit=limit)


def test_an_agent_matching_several_capabilities_is_told_once(open_market):
    poster, _ = register(open_market, "Poster", ["research"])
    both, _ = register(open_market, "Both", ["research", "summarization"], "https://localhost:9/both")
    one, _ = register(open_market, "One", ["summarization"], "https://localhost:9/one")
    post(open_market, poster, ["research", "summarization"])
    post(open_market, poster, ["summarization"])
    assert [d.event for d in open_market.webhook_deliveries(both)] == ["task.posted", "task.posted"]
    assert [d.event for d in open_market.webhook_deliveries(one)] == ["task.posted", "task.posted"]
