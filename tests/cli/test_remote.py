"""The same commands against a real ``agentmarket serve`` process, through the socket client."""

from __future__ import annotations

import json
import sys
import httpx
import pytest

from agentmarket_tui.client import MarketClient, local_client
from engine import Market

from tests.support.server import ServerProcess

from .conftest import Cli, agentmarket_process, one_error_line

pytestmark = pytest.mark.slow


def _remote(cli: Cli, served: ServerProcess, *args: str, key: str | None = None):
    return cli(*args, key=key, target=["--url", served.url])


def _register(cli: Cli, served: ServerProcess, name: str, *capabilities: str) -> tuple[str, str]:
    caps = [arg for c in capabilities or ("coding",) for arg in ("--capability", c)]
    result = _remote(cli, served, "register", "--name", name, *caps, "--owner-email", f"{name.lower()}@example.com",
                     "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return data["id"], data["api_key"]


def _json(cli: Cli, served: ServerProcess, *args: str, key: str | None = None):
    result = _remote(cli, served, *args, "--json", key=key)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_json_equals_the_servers_data(cli: Cli, served: ServerProcess) -> None:
    poster_id, poster = _register(cli, served, "Poster")
    _, worker = _register(cli, served, "Worker")
    posted = _json(cli, served, "tasks", "post", "--title", "Remote work", "--budget", "25",
                   "--capability", "coding", key=poster)
    _json(cli, served, "tasks", "accept", posted["id"], key=worker)
    done = _json(cli, served, "tasks", "complete", posted["id"], "--result", "shipped", key=worker)
    assert (done["status"], done["result"]) == ("completed", "shipped")

    api = httpx.Client(base_url=served.url)
    as_poster = {"X-API-Key": poster}
    assert _json(cli, served, "tasks", "list") == api.get("/api/tasks").json()["data"]
    assert _json(cli, served, "tasks", "show", posted["id"], key=poster) == \
        api.get(f"/api/tasks/{posted['id']}", headers=as_poster).json()["data"]
    assert _json(cli, served, "agents", "list") == api.get("/api/agents").json()["data"]
    assert _json(cli, served, "agents", "show", poster_id) == api.get(f"/api/agents/{poster_id}").json()["data"]
    assert _json(cli, served, "wallet", key=worker) == \
        api.get("/api/wallet", headers={"X-API-Key": worker}).json()["data"]
    assert _json(cli, served, "wallet", key=poster)["balance"] == 75
    assert _json(cli, served, "wallet", key=worker)["balance"] == 122
    api.close()


def test_remote_errors_are_one_line_with_the_servers_code(cli: Cli, served: ServerProcess) -> None:
    _, key = _register(cli, served, "Poster")
    cases = {
        ("tasks", "post", "--title", "T", "--budget", "500"): "[insufficient_credits]",
        ("tasks", "post", "--title", "", "--budget", "5"): "[validation_error]",
        ("tasks", "show", "00000000-0000-7000-8000-000000000000"): "[not_found]",
        ("tasks", "accept", "../../api/wallet"): "[not_found]",
    }
    for args, ending in cases.items():
        result = _remote(cli, served, *args, key=key)
        assert result.exit_code == 1, (args, result.output)
        assert one_error_line(result).endswith(ending), args
    wrong_key = _remote(cli, served, "wallet", key="f" * 64)
    assert wrong_key.exit_code == 1
    assert one_error_line(wrong_key).endswith("[invalid_api_key]")


def test_socket_and_in_process_clients_read_the_same_records(cli: Cli, served: ServerProcess) -> None:
    _, poster = _register(cli, served, "Poster", "coding", "research")
    worker_id, worker = _register(cli, served, "Worker", "coding", "research")
    remote = MarketClient(served.url, poster)
    worker_remote = MarketClient(served.url, worker)
    try:
        task = remote.post_task(title="Compare", description="both ways", budget=10,
                                required_capabilities=["coding"])
        worker_remote.accept_task(task.id)
        worker_remote.complete_task(task.id, "same")
        remote.rate_task(task.id, 4)
        remote.post_task(title="Still open", description="", budget=3, required_capabilities=[])
        with Market(served.db) as market:
            local = local_client(market, poster)
            assert remote.me() == local.me()
            assert remote.get_task(task.id) == local.get_task(task.id)
            assert remote.list_tasks() == local.list_tasks()
            assert remote.list_tasks(status="open", mine="posted") == local.list_tasks(status="open", mine="posted")
            assert remote.list_agents() == local.list_agents()
            assert remote.get_agent(worker_id) == local.get_agent(worker_id)
            assert remote.wallet() == local.wallet()
            assert remote.transactions() == local.transactions()
            assert remote.task_timeline(task.id) == local.task_timeline(task.id)
            assert remote.stats() == local.stats()
        assert remote.change_token() != 0
    finally:
        remote.close()
        worker_remote.close()


def test_worker_against_a_server_completes_and_gets_paid(cli: Cli, served: ServerProcess) -> None:
    _, poster = _register(cli, served, "Poster")
    worker_id, worker = _register(cli, served, "Worker")
    task = _json(cli, served, "tasks", "post", "--title", "Reverse", "--description", "stressed", "--budget", "25",
                 "--capability", "coding", key=poster)
    command = f"{sys.executable} -c \"import json,sys; print(json.load(sys.stdin)['description'][::-1])\""
    process = agentmarket_process("worker", "--url", served.url, "--api-key", worker, "--run", command,
                                  "--once", "--interval", "0.2", "--json")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["result"] == "desserts"
    shown = _json(cli, served, "tasks", "show", task["id"], key=poster)
    assert (shown["status"], shown["result"], shown["assigned_to"]) == ("completed", "desserts", worker_id)
    assert _json(cli, served, "wallet", key=worker)["balance"] == 100 + 25 * 90 // 100


def test_a_cli_process_registers_against_the_server(served: ServerProcess) -> None:
    process = agentmarket_process("register", "--url", served.url, "--name", "Proc", "--capability", "x",
                                  "--owner-email", "proc@example.com", "--json")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    key = json.loads(out)["api_key"]
    me = httpx.get(f"{served.url}/api/agents/me", headers={"X-API-Key": key}).json()
    assert me["data"]["name"] == "Proc"


def test_every_other_client_method_over_http(cli: Cli, served: ServerProcess) -> None:
    from engine.errors import InvalidApiKey, InvalidState, NotPoster
    from tests.outbound.servers import Reply, serving

    remote = MarketClient(served.url)
    helper = MarketClient(served.url)
    try:
        registration = remote.register(name="Owner", capabilities=["coding"], owner_email="o@example.com")
        assert remote.api_key == registration.api_key and registration.balance == 100
        helper.register(name="Helper", capabilities=["coding"], owner_email="h@example.com")

        assert remote.update_me(description="Now described").description == "Now described"
        new_key = remote.rotate_key()
        assert new_key != registration.api_key and remote.me().name == "Owner"
        MarketClient(served.url).use_key(registration.api_key)  # still valid for the grace period
        with pytest.raises(InvalidApiKey):
            MarketClient(served.url).use_key("0" * 64)

        set_ = remote.set_webhook("https://owner.example.com/agentmarket")
        assert set_.secret and set_.url == "...gentmarket"
        assert remote.webhook().url == "...gentmarket"

        first = helper.post_task(title="For the owner", description="", budget=10, required_capabilities=["coding"])
        assert [d.task_id for d in remote.webhook_deliveries().items] == [first.id]
        remote.accept_task(first.id)
        assert remote.release_task(first.id).status == "open"
        with pytest.raises(NotPoster):
            remote.cancel_task(first.id)
        assert helper.cancel_task(first.id).status == "cancelled"
        with pytest.raises(InvalidState):
            remote.accept_task(first.id)
        assert [e.type for e in remote.events()][-4:] == ["task.posted", "task.assigned", "task.released",
                                                          "task.cancelled"]

        with serving(lambda request: Reply.json({"result": "hired work"})) as endpoint:
            hired = helper.register(name="Hired", capabilities=["x"], owner_email="x@example.com", price_per_task=5,
                                    endpoint_url=endpoint.url)
            outcome = remote.execute(hired.agent.id, "do it", 5)
        assert (outcome.result, outcome.balance) == ("hired work", 95)
        assert remote.get_task(outcome.task_id).status == "completed"
    finally:
        remote.close()
        helper.close()


def test_webhook_and_execute_commands_over_http(cli: Cli, served: ServerProcess) -> None:
    _, key = _register(cli, served, "Hooked")
    data = _json(cli, served, "webhook", "set", "https://hooked.example.com/agentmarket", key=key)
    assert data["webhook_url"] == "...gentmarket" and data["webhook_secret"].startswith("whsec_")
    assert _json(cli, served, "webhook", "get", key=key)["webhook_url"] == "...gentmarket"
    assert _json(cli, served, "webhook", "deliveries", key=key) == []
    plain = _register(cli, served, "Plain")[0]
    refused = _remote(cli, served, "execute", "--agent", plain, "--description", "x", "--budget", "5", key=key)
    assert refused.exit_code == 1
    assert one_error_line(refused).endswith("[agent_not_executable]")


def test_change_token_finds_the_newest_event_and_moves_with_changes(served: ServerProcess) -> None:
    client = MarketClient(served.url)
    try:
        client.register(name="Busy", capabilities=["x"], owner_email="b@example.com")
        for n in range(6):
            client.post_task(title=f"T{n}", description="", budget=1, required_capabilities=[])
        newest = client.events(0, 1000)[-1].seq
        assert client.change_token() == newest
        assert client.change_token() == newest
        client.post_task(title="One more", description="", budget=1, required_capabilities=[])
        assert client.change_token() > newest
    finally:
        client.close()
