"""A2A (SPEC §14) against the real server, spoken by the official ``a2a-sdk`` client: cards
that its AgentCard model accepts, and hiring an agent by sending it a message."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

pytest.importorskip("a2a")

from a2a.client import A2ACardResolver, A2AClientError, ClientConfig, create_client  # noqa: E402
from a2a.compat.v0_3.jsonrpc_transport import CompatJsonRpcTransport  # noqa: E402
from a2a.types.a2a_pb2 import (  # noqa: E402
    AgentCard,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)
from a2a.utils.errors import InvalidParamsError  # noqa: E402
from google.protobuf.json_format import ParseDict  # noqa: E402
from google.protobuf.struct_pb2 import Struct  # noqa: E402

from engine.server._a2a_cards import MARKET_EXTENSION  # noqa: E402
from tests.outbound.servers import LoopbackServer, Reply  # noqa: E402

from .conftest import Api, ApiAgent  # noqa: E402

PRIVATE = ("owner_email", "endpoint_url", "system_prompt", "webhook_url", "api_key")


def _strict_card(data: dict[str, Any]) -> AgentCard:
    """The card as the SDK's AgentCard model, refusing any field the model does not have."""
    return ParseDict(data, AgentCard(), ignore_unknown_fields=False)


def _message(text: str, budget: int | None = None) -> SendMessageRequest:
    message = Message(message_id="m-1", role=Role.ROLE_USER, parts=[Part(text=text)])
    if budget is not None:
        message.metadata.update({"budget": budget})
    return SendMessageRequest(message=message)


async def _hire(base: str, agent_id: str, key: str | None, request: SendMessageRequest) -> list[StreamResponse]:
    """Resolve the agent's card and send it ``request`` with the SDK client (non-streaming)."""
    headers = {"X-API-Key": key} if key else {}
    async with httpx.AsyncClient(timeout=30) as anonymous:  # cards are public
        card = await A2ACardResolver(anonymous, f"{base}/a2a/agents/{agent_id}").get_agent_card()
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        client = await create_client(card, ClientConfig(httpx_client=http, streaming=False))
        return [event async for event in client.send_message(request)]


@pytest.fixture
def echo_agent() -> Any:
    with LoopbackServer(lambda r: Reply.json({"result": "done: " + r.json()["task_description"]})) as agent:
        yield agent


def test_cards_describe_the_market_and_each_agent_without_private_fields(api: Api, echo_agent: Any) -> None:
    worker = api.register("Researcher", "research", "summaries", description="Reads papers.", price_per_task=7,
                          endpoint_url=echo_agent.url, system_prompt="secret prompt",
                          webhook_url="https://127.0.0.1:9/hook")
    market = api.anonymous.get("/.well-known/agent-card.json")
    assert market.status_code == 200
    assert _strict_card(market.json()).name == "AgentMarket"

    card = api.anonymous.get(f"/a2a/agents/{worker.id}/.well-known/agent-card.json")
    alias = api.anonymous.get(f"/api/agents/{worker.id}/card")
    assert card.status_code == alias.status_code == 200
    assert card.json() == alias.json()
    parsed = _strict_card(card.json())
    assert parsed.name == "Researcher" and parsed.description == "Reads papers."
    assert [s.id for s in parsed.skills] == ["research", "summaries"]
    endpoint = f"{api.url}/a2a/agents/{worker.id}"
    assert {(i.url, i.protocol_binding, i.protocol_version) for i in parsed.supported_interfaces} == {
        (endpoint, "JSONRPC", "1.0"), (endpoint, "JSONRPC", "0.3")}
    [extension] = [e for e in parsed.capabilities.extensions if e.uri == MARKET_EXTENSION]
    assert extension.params["price_per_task"] == 7 and extension.params["currency"] == "credits"
    text = card.text
    for secret in ("secret prompt", echo_agent.url.split("//")[1], "researcher@example.com", worker.key):
        assert secret not in text
    assert not any(f'"{name}"' in text for name in PRIVATE)

    missing = api.anonymous.get("/a2a/agents/nobody/.well-known/agent-card.json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_sending_a_message_hires_the_agent_with_escrow(api: Api, echo_agent: Any) -> None:
    hirer = api.register("Hirer", "coding")
    worker = api.register("Worker", "research", price_per_task=20, endpoint_url=echo_agent.url)
    events = asyncio.run(_hire(api.url, worker.id, hirer.key, _message("summarise this", budget=30)))
    [event] = events
    task = event.task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert [p.text for p in task.artifacts[0].parts] == ["done: summarise this"]
    assert echo_agent.requests[-1].json()["budget"] == 30

    market_task = api.anonymous.get(f"/api/tasks/{task.id}").json()["data"]
    assert market_task["status"] == "completed" and market_task["assigned_to"] == worker.id
    assert hirer.get("/api/wallet").json()["data"]["balance"] == 70
    assert worker.get("/api/wallet").json()["data"]["balance"] == 127  # 100 + 30 less the 10 % fee
    # Without a budget, the agent's price is escrowed.
    asyncio.run(_hire(api.url, worker.id, hirer.key, _message("again")))
    assert hirer.get("/api/wallet").json()["data"]["balance"] == 50
    assert api.served.market.verify_ledger().ok


def test_a_failing_agent_is_an_a2a_error_and_the_hirer_is_refunded(api: Api) -> None:
    hirer = api.register("Hirer", "coding")
    with LoopbackServer(lambda r: Reply(500, b"broken")) as failing:
        worker = api.register("Broken", "research", price_per_task=5, endpoint_url=failing.url)
        with pytest.raises(A2AClientError, match=r"\[agent_failed\]"):
            asyncio.run(_hire(api.url, worker.id, hirer.key, _message("try", budget=10)))
    assert hirer.get("/api/wallet").json()["data"]["balance"] == 100
    [task] = hirer.get("/api/tasks", params={"poster_id": hirer.id}).json()["data"]
    assert task["status"] == "failed" and task["escrow"] == 0
    assert api.served.market.verify_ledger().ok


def test_unauthenticated_and_bad_keys_are_a2a_errors(api: Api, echo_agent: Any) -> None:
    worker = api.register("Worker", "research", endpoint_url=echo_agent.url)
    with pytest.raises(A2AClientError, match=r"\[auth_required\]"):
        asyncio.run(_hire(api.url, worker.id, None, _message("hello", budget=5)))
    with pytest.raises(A2AClientError, match=r"\[invalid_api_key\]"):
        asyncio.run(_hire(api.url, worker.id, "0" * 64, _message("hello", budget=5)))
    assert echo_agent.requests == []


def test_message_send_of_a2a_0_3_hires_too(api: Api, echo_agent: Any) -> None:
    hirer = api.register("Hirer", "coding")
    worker = api.register("Worker", "research", price_per_task=4, endpoint_url=echo_agent.url)

    async def send() -> Any:
        async with httpx.AsyncClient(headers={"X-API-Key": hirer.key}, timeout=30) as http:
            card = await A2ACardResolver(http, f"{api.url}/a2a/agents/{worker.id}").get_agent_card()
            transport = CompatJsonRpcTransport(http, card, f"{api.url}/a2a/agents/{worker.id}")
            return await transport.send_message(_message("old protocol"))

    response = asyncio.run(send())
    assert response.task.status.state == TaskState.TASK_STATE_COMPLETED
    assert response.task.artifacts[0].parts[0].text == "done: old protocol"
    raw = hirer.post(f"/a2a/agents/{worker.id}", {"jsonrpc": "2.0", "id": 9, "method": "message/send", "params": {
        "message": {"kind": "message", "messageId": "x", "role": "user",
                    "parts": [{"kind": "text", "text": "raw"}]}}}).json()
    assert raw["id"] == 9 and raw["result"]["kind"] == "task" and raw["result"]["status"]["state"] == "completed"
    assert hirer.get("/api/wallet").json()["data"]["balance"] == 92


def _rpc(agent: ApiAgent, target: str, body: Any = None, *, content: bytes | None = None) -> dict[str, Any]:
    response = agent.http.post(target, json=body) if content is None else agent.http.post(target, content=content)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert data["jsonrpc"] == "2.0" and "result" not in data, data
    return data


def test_bad_requests_are_json_rpc_errors_and_charge_nothing(api: Api, echo_agent: Any) -> None:
    hirer = api.register("Hirer", "coding")
    worker = api.register("Worker", "research", price_per_task=5, endpoint_url=echo_agent.url)
    target = f"/a2a/agents/{worker.id}"

    def send(params: Any, method: str = "SendMessage") -> dict[str, Any]:
        return _rpc(hirer, target, {"jsonrpc": "2.0", "id": "r1", "method": method, "params": params})

    text = {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}
    assert _rpc(hirer, target, content=b"{not json")["error"]["code"] == -32700
    assert _rpc(hirer, target, content=b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": '
                b'{"message": {"parts": [{"text": "\\ud800"}]}}}')["error"]["code"] == -32700
    assert _rpc(hirer, target, [1, 2])["error"]["code"] == -32600
    assert _rpc(hirer, target, {"jsonrpc": "1.0", "id": 1, "method": "SendMessage"})["error"]["code"] == -32600
    assert _rpc(hirer, target, {"jsonrpc": "2.0", "method": "SendMessage", "params": text})["error"]["code"] == -32600
    unknown = send(text, method="tasks/teleport")
    assert unknown["error"]["code"] == -32601 and unknown["id"] == "r1"
    assert send({})["error"]["code"] == -32602
    assert send({"message": {"parts": []}})["error"]["code"] == -32602
    assert send({"message": {"parts": ["hi"]}})["error"]["code"] == -32602
    assert send({"message": {"parts": [{"data": {"a": 1}}]}})["error"]["code"] == -32005
    too_long = send({"message": {"parts": [{"text": "x" * 100_001}]}})
    assert too_long["error"]["code"] == -32602
    assert too_long["error"]["data"][0]["metadata"]["field"] == "task_description"
    low = send({**text, "metadata": {"budget": 2}})
    assert low["error"]["code"] == -32602 and "at least" in low["error"]["message"]
    assert send({**text, "metadata": {"budget": "ten"}})["error"]["message"] == \
        "budget must be an integer [validation_error]"
    dear = send({**text, "metadata": {"budget": 500}})
    assert dear["error"]["code"] == -32000 and "[insufficient_credits]" in dear["error"]["message"]
    assert _rpc(hirer, "/a2a/agents/nobody", {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                                              "params": text})["error"]["data"][0]["reason"] == "NOT_FOUND"
    self_hire = _rpc(worker, target, {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": text})
    assert "[self_hire]" in self_hire["error"]["message"]
    oversize = _rpc(hirer, target, content=b'{"jsonrpc": "2.0", "pad": "' + b"x" * (1024 * 1024) + b'"}')
    assert oversize["error"]["code"] == -32600 and oversize["error"]["data"][0]["reason"] == "PAYLOAD_TOO_LARGE"
    assert echo_agent.requests == []
    assert hirer.get("/api/wallet").json()["data"]["balance"] == 100
    assert api.served.market.verify_ledger().ok


def test_cards_name_the_address_the_caller_used(api: Api) -> None:
    worker = api.register("Worker", "research")
    card = api.anonymous.get(f"/api/agents/{worker.id}/card", headers={"Host": "market.example:8443",
                                                                       "X-Forwarded-Proto": "https"}).json()
    assert card["supportedInterfaces"][0]["url"] == f"https://market.example:8443/a2a/agents/{worker.id}"
    # Not from the response cache: the next caller gets its own address.
    again = api.anonymous.get(f"/api/agents/{worker.id}/card").json()
    assert again["supportedInterfaces"][0]["url"] == f"{api.url}/a2a/agents/{worker.id}"
    hostile = api.anonymous.get(f"/api/agents/{worker.id}/card", headers={"Host": "evil/<script>"}).json()
    assert "<script>" not in hostile["supportedInterfaces"][0]["url"]


def test_a_fractional_budget_is_refused_by_name(api: Api, echo_agent: Any) -> None:
    hirer = api.register("Hirer", "coding")
    worker = api.register("Worker", "research", endpoint_url=echo_agent.url)
    metadata = Struct()
    metadata.update({"budget": 2.5})
    request = SendMessageRequest(message=Message(message_id="m", role=Role.ROLE_USER, parts=[Part(text="x")],
                                                 metadata=metadata))
    with pytest.raises(InvalidParamsError, match="budget must be an integer"):
        asyncio.run(_hire(api.url, worker.id, hirer.key, request))


def test_an_idempotency_key_hires_once_as_api_execute_does(api: Api, echo_agent: Any) -> None:
    hirer = api.register("Hirer", "coding")
    worker = api.register("Worker", "research", price_per_task=5, endpoint_url=echo_agent.url)
    target = f"/a2a/agents/{worker.id}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
            "params": {"message": {"parts": [{"text": "once"}]}}}
    first = hirer.post(target, body, headers={"Idempotency-Key": "hire-1"})
    again = hirer.post(target, body, headers={"Idempotency-Key": "hire-1"})
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(echo_agent.requests) == 1
    other = hirer.post(target, {**body, "id": 2}, headers={"Idempotency-Key": "hire-1"}).json()
    assert other["error"]["code"] == -32000 and "[idempotency_conflict]" in other["error"]["message"]
    assert hirer.get("/api/wallet").json()["data"]["balance"] == 95
