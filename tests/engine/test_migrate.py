"""``agentmarket migrate``: a market moves between SQLite and PostgreSQL with all its history,
verified on arrival; a target that holds a market is refused (SPEC §13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentmarket_tui.cli import main
from engine import Market
from engine.queries import TaskQuery

from .conftest import register

pytestmark = pytest.mark.postgres


def _busy(path: Path) -> None:
    """A market with money in every state: grants, escrows, payouts, fees, a dispute, an
    operator's grant, a webhook delivery with its attempt, an invite and an idempotent answer."""
    with Market(path, allow_private_urls=True) as market:
        poster = register(market, "Poster", ("writing",), webhook_url="https://127.0.0.1:9/hook")
        worker = register(market, "Worker", ("research",))
        judge = register(market, "Judge", ("research",))
        market.grant(poster, 500, "enough for the test")
        for n in range(12):
            task = market.post_task(poster, title=f"Task {n} about Über-parsers", budget=5 + n,
                                    required_capabilities=["research"], review_hours=1 if n % 4 == 3 else 0,
                                    evaluator_id=judge if n % 4 == 3 else None)
            if n % 3 == 0:
                continue
            market.accept_task(task.id, worker)
            if n % 2:
                market.complete_task(task.id, worker, f"result {n}")
        disputed = market.post_task(poster, title="Disputed", budget=40, review_hours=1, evaluator_id=judge)
        market.accept_task(disputed.id, worker)
        market.complete_task(disputed.id, worker, "contested")
        market.reject_task(disputed.id, poster, "not good enough")
        market.resolve_task(disputed.id, judge, 70, "mostly done")
        market.grant(worker, 33, "a bug bounty")
        market.create_invites(2)
        outbox = market.outbox
        claims = outbox.claim("test", 0.0, 1, 0.0, ()) if outbox.take_lease("test", 0.0, 10**10) else []
        for claim in claims:
            from engine.services.outbox import Outcome

            outbox.retry(claim, Outcome(None, 1.5, "connection refused"), 1.0)


def _everything(db: Path | str) -> dict[str, Any]:
    with Market(db) as market:
        agents = market.list_agents(limit=100)
        return {
            "stats": market.stats(),
            "agents": agents,
            "tasks": market.tasks_page(TaskQuery(limit=100)).items,
            "search": market.tasks_page(TaskQuery(search="über", limit=100)).items,
            "events": market.events(0, 1000),
            "wallets": {a.id: (market.balance(a.id), market.transactions(a.id, limit=100)) for a in agents},
            "deliveries": {a.id: market.outbox.recent(a.id, 100) for a in agents},
            "ledger": market.verify_ledger().ok and market.verify_counters().ok,
        }


def test_a_market_moves_to_postgresql_and_back_with_all_its_history(tmp_path: Path, market_database: str) -> None:
    source, back = tmp_path / "source.db", tmp_path / "back.db"
    _busy(source)
    runner = CliRunner()
    there = runner.invoke(main, ["migrate", "--from", str(source), "--to", market_database])
    assert there.exit_code == 0, there.output
    assert "ledger and counters verify" in there.output
    again = runner.invoke(main, ["migrate", "--from", str(source), "--to", market_database])
    assert again.exit_code == 1 and "already holds a market" in again.output and "Traceback" not in again.output
    home = runner.invoke(main, ["migrate", "--from", market_database, "--to", str(back)])
    assert home.exit_code == 0, home.output

    original = _everything(source)
    assert original["ledger"] and len(original["tasks"]) == 13 and original["deliveries"]
    assert _everything(market_database) == original
    assert _everything(back) == original
    with Market(market_database) as moved:  # it keeps working: ids and sequences continue
        poster = moved.list_agents(limit=1)[-1].id
        moved.post_task(poster, title="After the move", budget=1)
        moved.grant(poster, 1, "after the move")
        assert moved.verify_ledger().ok and moved.verify_counters().ok


def test_migrate_refuses_a_missing_source_and_a_full_file_target(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["migrate", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "t.db")])
    assert missing.exit_code == 1 and "no market at" in missing.output
    full = tmp_path / "full.db"
    _busy(full)
    refused = runner.invoke(main, ["migrate", "--from", str(full), "--to", str(full)])
    assert refused.exit_code == 1 and "already holds a market" in refused.output
