"""A2A answers alike over both transports: the cards (for the same Host), JSON-RPC refusals
(including a body over 1 MiB, refused before the dispatcher reads it) and a hire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.outbound.servers import LoopbackServer, Reply

from .conftest import TRANSPORTS, Connect, run_on_both
from .test_http_parity import answer, raw

HOST = {"Host": "market.test"}


def a2a_requests(connect: Connect, endpoint_url: str) -> dict[str, Any]:
    worker = connect(None)
    worker.register(name="Worker", capabilities=["research"], owner_email="w@example.com", price_per_task=3,
                    endpoint_url=endpoint_url)
    hirer = connect(None)
    hirer.register(name="Hirer", capabilities=["x"], owner_email="h@example.com")
    assert hirer.api_key
    worker_id = worker.me().id
    key = {"X-API-Key": hirer.api_key}
    send = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
            "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hello"}]}}}
    out: dict[str, Any] = {}
    with raw(hirer) as http:
        out["market card"] = answer(http.get("/.well-known/agent-card.json", headers=HOST))
        out["agent card"] = answer(http.get(f"/a2a/agents/{worker_id}/.well-known/agent-card.json", headers=HOST))
        out["card alias"] = answer(http.get(f"/api/agents/{worker_id}/card", headers=HOST))
        out["no key"] = answer(http.post(f"/a2a/agents/{worker_id}", json=send))
        out["bad key"] = answer(http.post(f"/a2a/agents/{worker_id}", json=send, headers={"X-API-Key": "0" * 64}))
        out["bad json"] = answer(http.post(f"/a2a/agents/{worker_id}", content=b"{", headers=key))
        out["oversize"] = answer(http.post(f"/a2a/agents/{worker_id}", content=b" " * (1024 * 1024 + 1),
                                           headers=key))
        out["hire"] = answer(http.post(f"/a2a/agents/{worker_id}", json=send, headers=key))
    out["balance"] = hirer.wallet().balance
    return out


def test_a2a_is_answered_alike(tmp_path: Path) -> None:
    with LoopbackServer(lambda r: Reply.json({"result": "done"})) as agent:
        outcomes = run_on_both(tmp_path, lambda connect: a2a_requests(connect, agent.url))
    socket, in_process = (outcomes[name] for name in TRANSPORTS)
    for label in socket:
        assert in_process[label] == socket[label], label
    assert socket["agent card"]["json"] == socket["card alias"]["json"]
    assert socket["agent card"]["json"]["supportedInterfaces"][0]["url"].startswith("http://market.test/a2a/")
    codes = {label: socket[label]["json"]["error"]["code"]
             for label in ("no key", "bad key", "bad json", "oversize")}
    assert codes == {"no key": -32000, "bad key": -32000, "bad json": -32700, "oversize": -32600}
    assert socket["hire"]["json"]["result"]["task"]["artifacts"][0]["parts"][0]["text"] == "done"
    assert socket["balance"] == 97
