"""``agentmarket mcp`` spoken to by the ``mcp`` SDK's client: the seed's Quick Start through tools
only, over stdio and streamable HTTP, and every tool's refusals, which must be the REST API's."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from agentmarket_tui.client import MarketClient, local_client
from agentmarket_tui.mcp_server import TOOLS, build_server
from engine import Market
from engine import validation as v
from engine.errors import MarketError
from tests.outbound.servers import LoopbackServer, Reply

from .conftest import ROOT, TRANSPORTS, command, data, environment, error, mcp_session

pytestmark = pytest.mark.slow


def _register(db: Path, name: str, *capabilities: str, **fields: Any) -> tuple[str, str]:
    """Register an agent outside MCP (through the client, as the Quick Start's step 1); (id, key)."""
    with local_client(db) as client:
        registration = client.register(name=name, capabilities=list(capabilities or ("coding",)),
                                        owner_email=f"{name.lower()}@example.com", **fields)
    return registration.agent.id, registration.api_key


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_quick_start_through_tools_only(tmp_path: Path, transport: str) -> None:
    db = tmp_path / "market.db"
    poster_id, poster_key = _register(db, "Poster", "writing")
    worker_id, worker_key = _register(db, "MyBot", "coding")

    async def scenario() -> None:
        async with mcp_session(transport, "--db", str(db), "--api-key", poster_key) as poster, \
                mcp_session(transport, "--db", str(db), "--api-key", worker_key) as worker:
            found = data(await poster.call_tool("find_agents", {"capability": "coding"}))
            assert [a["id"] for a in found["items"]] == [worker_id] and found["total"] == 1
            task = data(await poster.call_tool("post_task", {
                "title": "Write a parser", "description": "JSON, please", "budget": 25,
                "required_capabilities": ["coding"]}))
            assert task["status"] == "open" and task["escrow"] == 25
            assert data(await poster.call_tool("my_wallet", {}))["balance"] == 75

            open_tasks = data(await worker.call_tool("list_tasks", {"status": "open"}))
            assert [t["id"] for t in open_tasks["items"]] == [task["id"]]
            accepted = data(await worker.call_tool("accept_task", {"task_id": task["id"]}))
            assert accepted["status"] == "assigned" and accepted["assigned_to"] == worker_id
            done = data(await worker.call_tool("complete_task", {"task_id": task["id"],
                                                                 "result": "Here is my completed work..."}))
            assert done["status"] == "completed" and done["result"] == "Here is my completed work..."
            assert data(await worker.call_tool("my_wallet", {}))["balance"] == 122
            assert data(await poster.call_tool("get_task", {"task_id": task["id"]}))["result"] == \
                "Here is my completed work..."
            history = data(await worker.call_tool("my_transactions", {"limit": 5}))
            assert history["items"][0]["amount"] == 22 and history["items"][0]["task_id"] == task["id"]
            mine = data(await poster.call_tool("list_tasks", {"mine": "posted"}))
            assert mine["total"] == 1

            resource = await poster.read_resource(f"agentmarket://tasks/{task['id']}")
            assert '"status": "completed"' in resource.contents[0].text
            agent = await poster.read_resource(f"agentmarket://agents/{worker_id}")
            assert '"total_tasks": 1' in agent.contents[0].text and "owner_email" not in agent.contents[0].text

    anyio.run(scenario)
    with Market(db) as market:
        assert market.verify_ledger().ok


def test_every_tool_refuses_as_the_rest_api_does(tmp_path: Path) -> None:
    db = tmp_path / "market.db"
    me_id, me_key = _register(db, "Me", "coding")
    other_id, other_key = _register(db, "Other", "coding", price_per_task=10)
    idle_id, _ = _register(db, "Idle", "coding")  # neither endpoint nor prompt: not hireable
    with local_client(db, other_key) as other:
        theirs = other.post_task(title="Theirs", budget=5, required_capabilities=["coding"]).id
        assigned_to_them = other.post_task(title="Taken", budget=5).id
    with local_client(db, me_key) as me:
        mine = me.post_task(title="Mine", budget=5).id
    with local_client(db, other_key) as other:
        other.accept_task(mine)

    with LoopbackServer(lambda r: Reply.json({"result": "ok"})) as endpoint:
        with Market(db) as market:
            market.configure(allow_private_urls=True)
        with local_client(db, other_key) as other:
            other.update_me(endpoint_url=endpoint.url)

        rest = local_client(db, me_key)
        cases: list[tuple[str, dict[str, Any], Callable[[MarketClient], Any]]] = [
            ("find_agents", {"limit": "abc"}, lambda c: c.list_agents(limit="abc")),  # type: ignore[arg-type]
            ("find_agents", {"order": "bogus"}, lambda c: c.list_agents(order="bogus")),
            ("find_agents", {"capability": "Not A Slug"}, lambda c: c.list_agents(capability="Not A Slug")),
            ("list_tasks", {"status": "lost"}, lambda c: c.list_tasks(status="lost")),
            ("list_tasks", {"offset": -1}, lambda c: c.list_tasks(offset=-1)),
            ("list_tasks", {"mine": "everyone"}, lambda c: c.list_tasks(mine="everyone")),
            ("get_task", {"task_id": "nope"}, lambda c: c.get_task("nope")),
            ("post_task", {"title": "x", "budget": "5"}, lambda c: c.post_task(title="x", budget="5")),
            ("post_task", {"title": "x", "budget": True}, lambda c: c.post_task(title="x", budget=True)),
            ("post_task", {"title": "", "budget": 5}, lambda c: c.post_task(title="", budget=5)),
            ("post_task", {"title": "x", "budget": 5, "required_capabilities": ["Bad"]},
             lambda c: c.post_task(title="x", budget=5, required_capabilities=["Bad"])),
            ("post_task", {"title": "x", "budget": 10_000}, lambda c: c.post_task(title="x", budget=10_000)),
            ("accept_task", {"task_id": theirs + "x"}, lambda c: c.accept_task(theirs + "x")),
            ("accept_task", {"task_id": mine}, lambda c: c.accept_task(mine)),
            ("complete_task", {"task_id": theirs, "result": "done"}, lambda c: c.complete_task(theirs, "done")),
            ("complete_task", {"task_id": assigned_to_them, "result": "done"},
             lambda c: c.complete_task(assigned_to_them, "done")),
            ("release_task", {"task_id": theirs}, lambda c: c.release_task(theirs)),
            ("release_task", {"task_id": mine}, lambda c: c.release_task(mine)),
            ("cancel_task", {"task_id": theirs}, lambda c: c.cancel_task(theirs)),
            ("cancel_task", {"task_id": mine}, lambda c: c.cancel_task(mine)),
            ("rate_task", {"task_id": mine, "rating": 4}, lambda c: c.rate_task(mine, 4)),
            ("hire_agent", {"agent_id": other_id, "task_description": "go", "budget": 3},
             lambda c: c.execute(other_id, "go", 3)),
            ("hire_agent", {"agent_id": idle_id, "task_description": "go", "budget": 3},
             lambda c: c.execute(idle_id, "go", 3)),
            ("hire_agent", {"agent_id": me_id, "task_description": "go", "budget": 3},
             lambda c: c.execute(me_id, "go", 3)),
            ("hire_agent", {"agent_id": other_id, "task_description": "go", "budget": 500},
             lambda c: c.execute(other_id, "go", 500)),
            ("hire_agent", {"agent_id": "nobody", "task_description": "go", "budget": 5},
             lambda c: c.execute("nobody", "go", 5)),
            ("my_transactions", {"limit": 0}, lambda c: c.transactions(limit=0)),
        ]
        # Arguments missing or of a type no REST body would hold: the validation schema's own message.
        schema_cases = [
            ("get_task", {}, "task_id", "task_id is required"),
            ("accept_task", {"task_id": 7}, "task_id", "task_id must be a string"),
            ("complete_task", {"task_id": theirs}, "result", "result is required"),
            ("complete_task", {"task_id": theirs, "result": ""}, "result", "result must not be empty"),
            ("rate_task", {"task_id": mine, "rating": 6}, "rating", "rating must be at most 5"),
            ("post_task", {"budget": 5}, "title", "title is required"),
            ("hire_agent", {"agent_id": other_id, "budget": 5}, "task_description", "task_description is required"),
            ("find_agents", {"search": ["a", "b"]}, "search", "search must be a string or a number"),
        ]

        async def scenario() -> list[tuple[str, dict[str, Any]]]:
            refusals = []
            async with mcp_session("stdio", "--db", str(db), "--api-key", me_key) as session:
                for name, args, _ in cases:
                    refusals.append((name, error(await session.call_tool(name, args))))
                for name, args, field, message in schema_cases:
                    err = error(await session.call_tool(name, args))
                    assert (err["code"], err.get("field"), err["message"]) == ("validation_error", field, message)
                unknown = error(await session.call_tool("teleport", {}))
                assert unknown["code"] == "not_found" and "find_agents" in unknown["message"]
                with pytest.raises(MCPError, match=r"\[not_found\]"):
                    await session.read_resource("agentmarket://tasks/nope")
                with pytest.raises(MCPError, match=r"\[not_found\]"):
                    await session.read_resource("agentmarket://wallets/me")
            return refusals

        refusals = anyio.run(scenario)
        try:
            for (name, args, through_rest), (_, err) in zip(cases, refusals, strict=True):
                with pytest.raises(MarketError) as refused:
                    through_rest(rest)
                assert err == refused.value.to_dict(), (name, args)
        finally:
            rest.close()
        assert endpoint.requests == []
    with Market(db) as market:
        assert market.verify_ledger().ok
        assert market.wallet(me_id).balance == 95


def test_without_a_key_acting_tools_say_how_to_choose_an_agent(tmp_path: Path) -> None:
    db = tmp_path / "market.db"
    _register(db, "Someone", "coding")

    async def scenario() -> None:
        async with mcp_session("stdio", "--db", str(db)) as session:
            assert data(await session.call_tool("find_agents", {}))["total"] == 1
            for name, args in (("my_wallet", {}), ("my_transactions", {}), ("post_task", {"title": "x", "budget": 5}),
                               ("accept_task", {"task_id": "t"}), ("list_tasks", {"mine": "posted"})):
                err = error(await session.call_tool(name, args))
                assert err["code"] == "no_identity" and "--api-key" in err["message"], name

    anyio.run(scenario)


def test_tool_schemas_are_the_validation_rules() -> None:
    by_name = {tool.name: tool for tool in TOOLS}
    assert by_name["post_task"].input_schema == v.TASK.json_schema()
    assert by_name["hire_agent"].input_schema == v.EXECUTION.json_schema()
    assert by_name["complete_task"].input_schema["properties"]["result"] == v.RESULT.field("result").json_schema()
    assert by_name["find_agents"].input_schema["properties"]["limit"]["maximum"] == v.LIMIT_MAX
    for tool in TOOLS:
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.input_schema["type"] == "object"


def test_listing_over_the_sdk_in_process(tmp_path: Path) -> None:
    db = tmp_path / "market.db"
    _, key = _register(db, "Lister", "coding")

    async def scenario() -> None:
        with local_client(db, key) as client:
            async with Client(build_server(client)) as session:
                listed = await session.list_tools()
                assert {t.name for t in listed.tools} == {t.name for t in TOOLS}
                templates = await session.list_resource_templates()
                assert {t.uri_template for t in templates.resource_templates} == {
                    "agentmarket://tasks/{id}", "agentmarket://agents/{id}"}

    anyio.run(scenario)


def test_without_the_mcp_extra_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['mcp'] = None; from agentmarket_tui.cli import main; "
            f"sys.exit(main(['mcp', '--db', {str(tmp_path / 'm.db')!r}]))")
    result = subprocess.run([command()[0], "-c", code], cwd=ROOT, env=environment(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["Error: agentmarket mcp needs the MCP SDK: "
                                                  "pip install 'agentmarket[mcp]'"]
    assert result.stdout == ""


def test_against_a_server_it_behaves_as_against_a_file(tmp_path: Path) -> None:
    from tests.support.server import running_server

    with running_server(tmp_path / "served.db") as served:
        with MarketClient(served.url) as client:
            key = client.register(name="Remote", capabilities=["coding"], owner_email="r@example.com").api_key

        async def scenario() -> None:
            async with mcp_session("stdio", "--url", served.url, "--api-key", key) as session:
                task = data(await session.call_tool("post_task", {"title": "Over HTTP", "budget": 10}))
                assert data(await session.call_tool("get_task", {"task_id": task["id"]}))["title"] == "Over HTTP"
                assert data(await session.call_tool("my_wallet", {}))["balance"] == 90
                err = error(await session.call_tool("post_task", {"title": "x", "budget": 0}))
                assert (err["code"], err["field"], err["message"]) == ("validation_error", "budget",
                                                                       "budget must be at least 1")
            async with mcp_session("stdio", "--url", served.url, "--api-key", "0" * 64) as stranger:
                assert error(await stranger.call_tool("my_wallet", {}))["code"] == "invalid_api_key"

        anyio.run(scenario)
        assert served.market.verify_ledger().ok


def test_review_and_dispute_through_tools(tmp_path: Path) -> None:
    """SPEC §10 through MCP: a submitted result rejected, then settled by its evaluator."""
    db = tmp_path / "market.db"
    _, poster_key = _register(db, "Poster", "writing")
    _, worker_key = _register(db, "Worker", "coding")
    judge_id, judge_key = _register(db, "Judge", "review")

    async def scenario() -> None:
        async with mcp_session("stdio", "--db", str(db), "--api-key", poster_key) as poster, \
                mcp_session("stdio", "--db", str(db), "--api-key", worker_key) as worker, \
                mcp_session("stdio", "--db", str(db), "--api-key", judge_key) as judge:
            task = data(await poster.call_tool("post_task", {"title": "Reviewed", "budget": 20, "review_hours": 2,
                                                             "evaluator_id": judge_id}))
            await worker.call_tool("accept_task", {"task_id": task["id"]})
            submitted = data(await worker.call_tool("complete_task", {"task_id": task["id"], "result": "draft"}))
            assert submitted["status"] == "submitted"
            assert error(await worker.call_tool("approve_task", {"task_id": task["id"]}))["code"] == "not_poster"
            disputed = data(await poster.call_tool("reject_task", {"task_id": task["id"], "reason": "thin"}))
            assert disputed["status"] == "disputed"
            refused = error(await judge.call_tool("resolve_task", {"task_id": task["id"], "worker_share": 50.5}))
            assert (refused["code"], refused["field"]) == ("validation_error", "worker_share")
            settled = data(await judge.call_tool("resolve_task", {"task_id": task["id"], "worker_share": 50}))
            assert settled["status"] == "completed"

    anyio.run(scenario)
    with Market(db) as market:
        assert market.verify_ledger().ok
