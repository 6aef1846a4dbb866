"""Direct execution end to end (SPEC §6): real endpoint agents on loopback and a local
stand-in for the Anthropic Messages API; balances checked to the credit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks

from engine import Market
from engine.errors import AgentFailed, AgentNotExecutable, InsufficientCredits, LLMNotConfigured, ValidationError
from engine.outbound import CallSettings, execute, recover_interrupted_executions, verify_seed_signature

from .servers import LoopbackServer, Received, Reply, messages_reply

BUDGET = 20
PAID = 18  # floor(20 * 90 / 100)


def endpoint_reply(request: Received) -> Reply:
    """An endpoint agent whose behaviour depends on the path it is called on."""
    if request.path == "/ok":
        return Reply.json({"result": "done: " + request.json()["task_description"]})
    if request.path == "/error":
        return Reply.json({"error": "boom"}, status=500)
    if request.path == "/slow":
        return Reply(200, b'{"result": "late"}', delay=5)
    if request.path == "/huge":
        return Reply.json({"result": "x" * (1024 * 1024 + 10)})
    if request.path == "/not-json":
        return Reply(200, b"<html>hello</html>", {"Content-Type": "text/html"})
    if request.path == "/no-result":
        return Reply.json({"answer": "42"})
    if request.path == "/empty":
        return Reply.json({"result": "   "})
    if request.path == "/redirect":
        return Reply(307, b"", {"Location": "/ok"})
    if request.path == "/controls":
        return Reply.json({"result": "red \x1b[31mtext\x00\x07 and\ttabs\nlines"})
    return Reply(404)


@pytest.fixture
def endpoint() -> Iterator[LoopbackServer]:
    with LoopbackServer(endpoint_reply) as server:
        yield server


@pytest.fixture
def claude() -> Iterator[LoopbackServer]:
    with LoopbackServer(lambda _: messages_reply("Packets flow like streams")) as server:
        yield server


def agent(market: Market, name: str, **fields: object) -> str:
    reg = market.register_agent(name=name, capabilities=["writing"], owner_email=f"{name.lower()}@example.com",
                                price_per_task=10, **fields)
    return reg.agent.id


def caller(market: Market) -> str:
    return agent(market, "Caller")


def assert_refunded(market: Market, caller_id: str, agent_id: str, task_id: str) -> None:
    assert market.balance(caller_id) == 100
    assert market.balance(agent_id) == 100
    task = market.get_task(task_id)
    assert (task.status, task.escrow, task.result) == ("failed", 0, None)
    assert market.stats().fees_collected == 0
    assert market.verify_ledger().ok


def test_an_endpoint_agent_is_called_and_paid(open_market, endpoint):
    me = caller(open_market)
    hired = agent(open_market, "Writer", endpoint_url=endpoint.url + "/ok")

    task = execute(open_market, me, hired, "Write a haiku about distributed systems", BUDGET)

    assert (task.status, task.result) == ("completed", "done: Write a haiku about distributed systems")
    (request,) = endpoint.received()
    assert request.json() == {"task_id": task.id, "task_description": "Write a haiku about distributed systems",
                              "budget": BUDGET, "capabilities": ["writing"]}
    assert request.headers["Content-Type"] == "application/json"
    assert open_market.balance(me) == 100 - BUDGET
    assert open_market.balance(hired) == 100 + PAID
    assert open_market.stats().fees_collected == BUDGET - PAID
    assert open_market.get_agent(hired).total_tasks == 1
    assert open_market.verify_ledger().ok


def test_an_endpoint_call_is_signed_when_the_agent_has_a_webhook_secret(open_market, endpoint):
    me = caller(open_market)
    reg = open_market.register_agent(name="Signed", capabilities=["writing"], owner_email="s@example.com",
                                     endpoint_url=endpoint.url + "/ok", webhook_url="https://localhost:9/hook")

    task = execute(open_market, me, reg.agent.id, "Write a haiku", BUDGET)

    (request,) = endpoint.received()
    assert verify_seed_signature(reg.webhook_secret, request.body, request.headers["X-AgentMarket-Signature"])
    assert standardwebhooks.Webhook(reg.webhook_secret).verify(request.body, dict(request.headers.items()))
    assert request.headers["webhook-id"] == request.headers["X-AgentMarket-Task"] == task.id


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/error", "HTTP 500"),
        ("/huge", "larger than 1 MiB"),
        ("/not-json", "not JSON"),
        ("/no-result", '"result"'),
        ("/empty", "empty result"),
        ("/redirect", "HTTP 307"),
        ("/missing", "HTTP 404"),
    ],
)
def test_an_endpoint_that_gives_no_usable_result_fails_the_task_and_refunds(open_market, endpoint, path, reason):
    me = caller(open_market)
    hired = agent(open_market, "Writer", endpoint_url=endpoint.url + path)

    with pytest.raises(AgentFailed) as failure:
        execute(open_market, me, hired, "Write a haiku", BUDGET)

    assert failure.value.status == 502 and failure.value.code == "agent_failed"
    assert reason in failure.value.message
    assert_refunded(open_market, me, hired, failure.value.details["task_id"])
    assert len(endpoint.received("/ok")) == 0  # a redirect is not followed


def test_an_endpoint_that_does_not_answer_in_time_fails_the_task(open_market, endpoint):
    me = caller(open_market)
    hired = agent(open_market, "Writer", endpoint_url=endpoint.url + "/slow")

    with pytest.raises(AgentFailed) as failure:
        execute(open_market, me, hired, "Write a haiku", BUDGET, settings=CallSettings(timeout=0.3))

    assert "within 0.3 s" in failure.value.message
    assert_refunded(open_market, me, hired, failure.value.details["task_id"])


def test_an_unreachable_endpoint_fails_the_task(open_market):
    with LoopbackServer() as gone:
        url = gone.url + "/ok"
    me = caller(open_market)
    hired = agent(open_market, "Writer", endpoint_url=url)

    with pytest.raises(AgentFailed) as failure:
        execute(open_market, me, hired, "Write a haiku", BUDGET)

    assert "could not be reached" in failure.value.message
    assert_refunded(open_market, me, hired, failure.value.details["task_id"])


def test_control_characters_in_a_result_are_stripped_not_fatal(open_market, endpoint):
    me = caller(open_market)
    hired = agent(open_market, "Writer", endpoint_url=endpoint.url + "/controls")

    task = execute(open_market, me, hired, "Write a haiku", BUDGET)

    assert task.result == "red [31mtext and\ttabs\nlines"
    assert open_market.balance(hired) == 100 + PAID


def test_a_loopback_endpoint_is_refused_unless_the_market_allows_it(open_market, endpoint):
    me = caller(open_market)
    hired = agent(open_market, "Writer", endpoint_url=endpoint.url + "/ok")  # stored while allowed
    open_market.allow_private_urls = False

    with pytest.raises(AgentFailed) as failure:
        execute(open_market, me, hired, "Write a haiku", BUDGET)

    assert "the address is not allowed" in failure.value.message
    assert "127.0.0.1" not in failure.value.message  # nor in the task's public failure event
    assert "127.0.0.1" not in str(open_market.task_timeline(failure.value.details["task_id"]))
    assert endpoint.received() == []
    assert_refunded(open_market, me, hired, failure.value.details["task_id"])


def test_a_prompt_agent_runs_as_one_claude_call(open_market, claude):
    settings = CallSettings(base_url=claude.url, api_key="sk-test-dummy", model="claude-test-model")
    me = caller(open_market)
    hired = agent(open_market, "Poet", system_prompt="You are a poet. Answer in haiku.")

    task = execute(open_market, me, hired, "Write a haiku about distributed systems", BUDGET, settings=settings)

    assert (task.status, task.result) == ("completed", "Packets flow like streams")
    (request,) = claude.received()
    sent = request.json()
    assert request.path == "/v1/messages"
    credential = request.headers.get("x-api-key") or request.headers.get("authorization", "")
    assert credential.removeprefix("Bearer ") == "sk-test-dummy"
    assert sent["system"] == "You are a poet. Answer in haiku."
    assert sent["messages"] == [{"role": "user", "content": "Write a haiku about distributed systems"}]
    assert sent["model"] == "claude-test-model"
    assert 0 < sent["max_tokens"] <= 8192
    assert open_market.balance(me) == 100 - BUDGET
    assert open_market.balance(hired) == 100 + PAID
    assert open_market.verify_ledger().ok


def test_a_prompt_agent_without_an_api_key_is_refunded_with_503(open_market):
    me = caller(open_market)
    hired = agent(open_market, "Poet", system_prompt="You are a poet.")

    with pytest.raises(LLMNotConfigured) as failure:
        execute(open_market, me, hired, "Write a haiku", BUDGET)

    error = failure.value
    assert (error.status, error.code) == (503, "llm_not_configured")
    assert error.to_dict()["task_id"] == error.details["task_id"]
    assert_refunded(open_market, me, hired, error.details["task_id"])


def test_a_claude_error_fails_the_task(open_market):
    with LoopbackServer(lambda _: Reply.json({"type": "error", "error": {"type": "invalid_request_error",
                                                                          "message": "bad"}}, status=400)) as api:
        me = caller(open_market)
        hired = agent(open_market, "Poet", system_prompt="You are a poet.")

        with pytest.raises(AgentFailed) as failure:
            execute(open_market, me, hired, "Write a haiku", BUDGET,
                    settings=CallSettings(base_url=api.url, api_key="sk-test-dummy"))

    assert "HTTP 400" in failure.value.message
    assert_refunded(open_market, me, hired, failure.value.details["task_id"])


def test_hiring_checks_come_first_and_charge_nothing(open_market, endpoint):
    me = caller(open_market)
    idle = agent(open_market, "Idle")
    hired = agent(open_market, "Writer", endpoint_url=endpoint.url + "/ok")

    with pytest.raises(AgentNotExecutable):
        execute(open_market, me, idle, "Write a haiku", BUDGET)
    with pytest.raises(ValidationError):
        execute(open_market, me, hired, "Write a haiku", 5)  # under the price
    with pytest.raises(InsufficientCredits):
        execute(open_market, me, hired, "Write a haiku", 500)

    assert open_market.balance(me) == 100
    assert endpoint.received() == []
    assert open_market.list_tasks() == []


def test_an_execution_cut_off_by_a_crash_is_refunded_later(market_path):
    now = [datetime(2026, 3, 13, 12, 0, tzinfo=UTC)]
    market = Market(market_path, clock=lambda: now[0])
    try:
        me = caller(market)
        hired = agent(market, "Poet", system_prompt="You are a poet.")
        cut_off = market.hire(me, hired, "Write a haiku", BUDGET)  # and then the process died
        now[0] += timedelta(seconds=100)
        running = market.hire(me, hired, "Another", BUDGET)

        assert recover_interrupted_executions(market) == []  # too young to be given up
        now[0] += timedelta(seconds=150)  # the first is now older than 3 timeouts + a minute
        recovered = recover_interrupted_executions(market)

        assert [t.id for t in recovered] == [cut_off.id]
        assert market.get_task(cut_off.id).status == "failed"
        assert market.get_task(running.id).status == "assigned"
        assert market.balance(me) == 100 - BUDGET
        assert market.verify_ledger().ok
        assert json.dumps(market.task_timeline(cut_off.id)[-1].data) == '{"reason": "the execution was interrupted"}'
    finally:
        market.close()
