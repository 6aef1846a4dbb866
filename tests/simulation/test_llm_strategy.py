"""An LLM-driven strategy, run against a local Messages API stand-in (no key, no internet)."""

from __future__ import annotations

import os
import re

import pytest

from engine.config import load_config
from engine.simulation import Collector, Scenario, Strategy, run_scenario
from engine.simulation.llm import ClaudeStrategy
from tests.outbound.servers import Received, Reply, messages_reply, serving


def _claude(request: Received) -> Reply:
    """Accept work paying at least 20 credits; charge 15."""
    question = request.json()["messages"][0]["content"]
    if "Do you accept" in question:
        budget = int(re.search(r"paying (\d+) credits", question).group(1))
        return messages_reply("Yes." if budget >= 20 else "No, thank you.")
    return messages_reply("15 credits")


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch):
    with serving(_claude) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("AGENTMARKET_MODEL", "claude-test")
        yield server


def test_claude_decides_what_its_agents_accept_and_charge(stand_in) -> None:
    claude = ClaudeStrategy(load_config(environ=os.environ), reprice_every=3)
    collector = Collector(every=20)
    run = run_scenario(Scenario(agents=8, tasks=80, seed=4), strategies=[claude, Strategy], collector=collector)
    assert run.summary.ledger_ok
    requests = stand_in.received("/v1/messages")
    assert requests and claude.calls == len(requests) and claude.failures == 0
    body = requests[0].json()
    assert body["model"] == "claude-test" and body["max_tokens"] == 16
    credential = requests[0].headers.get("x-api-key") or requests[0].headers.get("authorization", "")
    assert "test-key" in credential
    final = [r for r in collector.agent_rows if r["step"] == collector.model_rows[-1]["step"]]
    asked_price = [r for r in final if r["strategy"] == "claude"]
    assert asked_price and any(r["price"] == 15 for r in asked_price)
    # Claude's agents were only ever offered work they agreed to: every question it said yes to paid >= 20.
    for request in requests:
        question = request.json()["messages"][0]["content"]
        if "Do you accept" in question:
            paid = int(re.search(r"paying (\d+) credits", question).group(1))
            assert _claude(request).body.count(b"Yes") == (paid >= 20)


def test_unreadable_answers_fall_back_to_the_balanced_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(lambda _: messages_reply("Perhaps.")) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        claude = ClaudeStrategy(load_config(environ=os.environ), reprice_every=0)
        run = run_scenario(Scenario(agents=6, tasks=40, seed=1), strategies=[claude])
    assert run.summary.ledger_ok and run.summary.lifecycles > 0
    assert claude.failures >= claude.calls > 0  # every decision fell back (answers are cached per question)


def test_without_a_key_it_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        ClaudeStrategy(load_config(environ=os.environ))
