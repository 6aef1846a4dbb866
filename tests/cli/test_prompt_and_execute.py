"""Work done by others' code: ``worker --prompt`` through a local stand-in for Claude, and
``execute`` hiring an agent whose endpoint is a local HTTP server."""

from __future__ import annotations

import json

import pytest

from engine import Market
from tests.outbound.servers import Reply, messages_reply, serving

from .conftest import Cli, one_error_line


def test_prompt_worker_answers_with_claude(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    _, poster = cli.register("Poster")
    created = cli.json("register", "--name", "Poet", "--capability", "coding", "--owner-email", "p@example.com",
                       "--system-prompt", "Answer in one haiku.")
    task = cli.json("tasks", "post", "--title", "Ode to escrow", "--description", "Keep it short", "--budget", "20",
                    key=poster)
    with serving(lambda _: messages_reply("Credits rest in trust")) as claude:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", claude.url)
        result = cli("worker", "--prompt", "--once", "--interval", "0.1", "--json", key=created["api_key"])
        asked = claude.received()[0].json()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["result"] == "Credits rest in trust"
    assert asked["system"] == "Answer in one haiku."
    assert asked["messages"][0]["content"] == "Ode to escrow\n\nKeep it short"
    assert cli.json("tasks", "show", task["id"])["status"] == "completed"


def test_prompt_worker_without_an_anthropic_key_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    created = cli.json("register", "--name", "Poet", "--capability", "x", "--owner-email", "p@example.com",
                       "--system-prompt", "Be brief.")
    result = cli("worker", "--prompt", "--once", key=created["api_key"])
    assert result.exit_code == 1
    assert one_error_line(result).endswith("[llm_not_configured]")


def test_execute_hires_an_endpoint_agent(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTMARKET_ALLOW_PRIVATE_URLS", "1")  # the process's choice, never stored
    caller_id, caller = cli.register("Caller")
    with serving(lambda request: Reply.json({"result": "echo: " + request.json()["task_description"]})) as agent:
        hired = cli.json("register", "--name", "Echo", "--capability", "x", "--owner-email", "e@example.com",
                         "--price", "10", "--endpoint-url", agent.url + "/run")
        data = cli.json("execute", "--agent", hired["id"], "--description", "ping", "--budget", "10", key=caller)
        human = cli("execute", "--agent", hired["id"], "--description", "pong", "--budget", "10", key=caller)
    assert set(data) == {"task_id", "result"}
    assert data["result"] == "echo: ping"
    assert human.stdout.strip() == "echo: pong"
    assert cli.json("wallet", key=caller)["balance"] == 80
    too_cheap = cli("execute", "--agent", hired["id"], "--description", "x", "--budget", "5", key=caller)
    assert too_cheap.exit_code == 1
    assert one_error_line(too_cheap).endswith("(budget) [validation_error]")
    assert caller_id != hired["id"]
