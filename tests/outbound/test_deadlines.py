"""Peers that answer one byte at a time, and bodies nested too deep (issue 12, findings 1, 2, 10).

A dripping receiver keeps every read within the per-read timeout, so only a total
deadline per call ends it; these tests run that attack against real loopback servers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from engine.errors import AgentFailed
from engine.outbound import CallSettings, DeliveryWorker, execute

from .servers import LoopbackServer, Reply, messages_reply, wait_until
from .test_execution import BUDGET, agent, assert_refunded, caller
from .test_webhooks import post, register

DRIP = Reply(200, b"ok", drip=0.3)  # ~40 header bytes: about 12 s in all, each byte well within any timeout


def finished_within(seconds: float, call: Callable[[], Any]) -> BaseException | Any:
    """Run ``call`` in a thread; its result or exception, or fail if it is still running after ``seconds``."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


def test_eight_dripping_receivers_do_not_hold_up_an_honest_one(open_market, receiver, start_worker):
    poster, _ = register(open_market, "Poster", ["coding"])
    drippers = [receiver(lambda _: DRIP) for _ in range(8)]
    for n, hooks in enumerate(drippers):
        register(open_market, f"Slow{n}", ["slow"], hooks.url + "/hook")
    honest_hooks = receiver()
    honest, _ = register(open_market, "Honest", ["coding"], honest_hooks.url + "/hook")
    start_worker(open_market, timeout=10.0, concurrency=DeliveryWorker(open_market).concurrency)  # production's
    post(open_market, poster, ["slow"])
    wait_until(lambda: all(hooks.received() for hooks in drippers))  # every slow attempt is under way

    post(open_market, poster, ["coding"])

    wait_until(lambda: open_market.webhook_deliveries(honest)[0].status == "delivered", timeout=5.0)
    assert len(honest_hooks.received()) == 1


def test_slow_agents_sharing_one_receiver_hold_only_its_share_of_senders(open_market, receiver, start_worker):
    poster, _ = register(open_market, "Poster", ["coding"])
    slow = receiver(lambda _: DRIP)
    for n in range(20):  # more agents than senders, all on one receiver
        register(open_market, f"Tenant{n}", ["slow"], f"{slow.url}/tenant/{n}")
    honest_hooks = receiver()
    honest, _ = register(open_market, "Honest", ["coding"], honest_hooks.url + "/hook")
    start_worker(open_market, timeout=10.0, concurrency=16, per_receiver=2)
    post(open_market, poster, ["slow"])
    wait_until(lambda: len(slow.received()) == 2)

    post(open_market, poster, ["coding"])

    wait_until(lambda: open_market.webhook_deliveries(honest)[0].status == "delivered", timeout=5.0)
    assert len(slow.received()) == 2  # the receiver's share; the other tenants wait their turn


def test_a_webhook_attempt_ends_at_its_total_deadline(open_market, receiver, start_worker):
    poster, _ = register(open_market, "Poster", ["coding"])
    slow, _ = register(open_market, "Slow", ["coding"], receiver(lambda _: DRIP).url + "/hook")
    post(open_market, poster, ["coding"])

    start_worker(open_market, timeout=1.0, max_attempts=1)

    wait_until(lambda: open_market.webhook_deliveries(slow)[0].status == "failed", timeout=5.0)
    assert open_market.webhook_deliveries(slow)[0].last_error == "no answer within 1 s"


ONE_SECOND = CallSettings(timeout=1.0)


def test_a_dripping_endpoint_is_cut_off_at_the_execution_timeout_and_refunded_at_once(open_market):
    me = caller(open_market)
    with LoopbackServer(lambda _: DRIP) as endpoint:
        hired = agent(open_market, "Drip", endpoint_url=endpoint.url + "/run")
        failure = finished_within(5.0, lambda: execute(open_market, me, hired, "Write a haiku", BUDGET,
                                                       settings=ONE_SECOND))
    assert isinstance(failure, AgentFailed), failure
    assert "did not answer within 1 s" in failure.message
    assert_refunded(open_market, me, hired, failure.details["task_id"])  # now, not at the recovery sweep


def test_a_dripping_claude_call_is_cut_off_at_the_execution_timeout(open_market):
    pytest.importorskip("anthropic")  # imported here: a first import is slow, and not what is timed
    answer = messages_reply("late")
    with LoopbackServer(lambda _: Reply(200, answer.body, answer.headers, drip=0.3)) as claude:
        settings = CallSettings(timeout=1.0, api_key="sk-test-dummy", base_url=claude.url)
        me = caller(open_market)
        hired = agent(open_market, "Poet", system_prompt="Be brief.")
        failure = finished_within(5.0, lambda: execute(open_market, me, hired, "Write a haiku", BUDGET,
                                                       settings=settings))
    assert isinstance(failure, AgentFailed), failure
    assert "within 1 s" in failure.message
    assert_refunded(open_market, me, hired, failure.details["task_id"])


def test_a_result_nested_100000_levels_deep_is_a_bad_body_without_a_traceback(open_market, caplog):
    nested = b'{"result": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with LoopbackServer(lambda _: Reply(200, nested, {"Content-Type": "application/json"})) as endpoint, \
            caplog.at_level(logging.DEBUG):
        me = caller(open_market)
        hired = agent(open_market, "Deep", endpoint_url=endpoint.url + "/run")
        with pytest.raises(AgentFailed) as failure:
            execute(open_market, me, hired, "Write a haiku", BUDGET)
    assert "not JSON" in failure.value.message
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert_refunded(open_market, me, hired, failure.value.details["task_id"])
