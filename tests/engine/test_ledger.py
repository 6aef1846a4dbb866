"""The ledger's guarantees: ``verify_ledger`` and ``agentmarket ledger verify`` catch each
kind of corruption, and transfers cannot be rewritten."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentmarket_tui.cli import main
from engine import Market
from engine.storage._accounts import key_of, name_of
from tests.support.stores import raw_connection, tamper

from .conftest import register

GHOST = 10**6  # the rowid of no agent and no task: its wallet or escrow account has no owner


@pytest.fixture
def busy_market(market_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A market file with an open, an assigned and a completed task; returns its path and ids."""
    with Market(market_path) as market:
        poster, worker = register(market, "Poster"), register(market, "Worker")
        open_task = market.post_task(poster, title="open", budget=10).id
        assigned = market.post_task(poster, title="assigned", budget=20).id
        market.accept_task(assigned, worker)
        done = market.post_task(poster, title="done", budget=30).id
        market.accept_task(done, worker)
        market.complete_task(done, worker, "result")
        assert market.verify_ledger().ok
    yield market_path, {"poster": poster, "worker": worker, "open": open_task, "assigned": assigned, "done": done}


def failed_checks(path: Path) -> set[str]:
    with Market(path) as market:
        report = market.verify_ledger()
    assert report.ok == (not report.failed())
    return {check.name for check in report.failed()}


@pytest.mark.parametrize(
    ("sql", "failed"),
    [
        ("UPDATE accounts SET balance = balance + 5 WHERE key = (SELECT rowid * 4 FROM agents WHERE id = :poster)", {"balanced", "cached_balances"}),
        ("UPDATE accounts SET balance = -3 WHERE key = (SELECT rowid * 4 FROM agents WHERE id = :worker)",
         {"balanced", "cached_balances", "no_negative_balances"}),
        ("UPDATE tasks SET budget = 11 WHERE id = :open", {"escrow_matches_budget", "escrow_released_once"}),
        ("UPDATE tasks SET status = 'cancelled' WHERE id = :assigned", {"escrow_matches_budget", "escrow_released_once"}),
        ("UPDATE tasks SET status = 'open' WHERE id = :done", {"escrow_matches_budget", "escrow_released_once"}),
        (f"INSERT INTO accounts (key, balance) VALUES ({GHOST} * 4, 0)", {"wallets_have_agents"}),
        (f"INSERT INTO accounts (key, balance) VALUES ({GHOST} * 4 + 1, 0)", set()),
    ],
)
def test_verify_names_the_broken_invariant(busy_market: tuple[Path, dict[str, str]], sql: str, failed: set[str]) -> None:
    path, ids = busy_market
    for name, value in ids.items():
        sql = sql.replace(f":{name}", f"'{value}'")
    tamper(path, sql)
    assert failed_checks(path) == failed


def test_a_stray_escrow_holding_credits_is_reported(busy_market: tuple[Path, dict[str, str]]) -> None:
    path, _ = busy_market
    tamper(path, f"INSERT INTO accounts (key, balance) VALUES ({GHOST} * 4 + 1, 4)")
    assert failed_checks(path) == {"balanced", "cached_balances", "escrow_matches_budget"}


def test_the_report_lists_the_offending_rows(busy_market: tuple[Path, dict[str, str]]) -> None:
    path, ids = busy_market
    tamper(path, "UPDATE tasks SET budget = 11 WHERE id = ?", ids["open"])
    with Market(path) as market:
        check, flows = market.verify_ledger().failed()
    assert flows.offending == ({"task_id": ids["open"], "status": "open", "budget": 11, "moved_in": 10,
                                "times_in": 1, "moved_out": 0},)
    assert check.offending == ({"task_id": ids["open"], "status": "open", "budget": 11, "escrow": 10},)


def test_cli_verify_exits_0_on_a_sound_market_and_1_on_a_tampered_one(
    busy_market: tuple[Path, dict[str, str]],
) -> None:
    path, ids = busy_market
    runner = CliRunner()
    sound = runner.invoke(main, ["ledger", "verify", "--db", str(path)])
    assert sound.exit_code == 0, sound.output
    assert "ledger verifies" in sound.output
    tamper(path, f"UPDATE accounts SET balance = balance + 1 WHERE key = {key_of('?1')}", "wallet:" + ids["worker"])
    broken = runner.invoke(main, ["ledger", "verify", "--db", str(path)])
    assert broken.exit_code == 1
    assert "FAIL" in broken.output and "cached_balances" in broken.output
    assert "Traceback" not in broken.output


@pytest.mark.parametrize("sql", ["UPDATE transfers SET amount = amount + 1", "DELETE FROM transfers",
                                 "UPDATE transfers SET kind = 'grant' WHERE id = 1"])
def test_transfers_are_append_only(busy_market: tuple[Path, dict[str, str]], sql: str) -> None:
    path, _ = busy_market
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        tamper(path, sql)
    assert failed_checks(path) == set()


def test_every_movement_is_a_balanced_transfer(busy_market: tuple[Path, dict[str, str]]) -> None:
    path, ids = busy_market
    with Market(path) as market:
        kinds = [t.kind for t in reversed(market.transactions(ids["poster"]))]
        assert kinds == ["grant", "escrow", "escrow", "escrow"]
        assert [t.balance_after for t in reversed(market.transactions(ids["poster"]))] == [100, 90, 70, 40]
        worker = market.transactions(ids["worker"])
        assert (worker[0].kind, worker[0].amount, worker[0].balance_after) == ("payout", 27, 127)
        stats = market.stats()
        assert stats.credits_issued == stats.credits_in_wallets + stats.credits_in_escrow + stats.fees_collected
        assert (stats.credits_in_escrow, stats.fees_collected) == (30, 3)


def test_each_transfer_records_both_balances_after_it(busy_market: tuple[Path, dict[str, str]]) -> None:
    path, ids = busy_market
    conn = raw_connection(path)
    rows = conn.execute(f"SELECT kind, {name_of('from_account')}, amount, from_balance, to_balance FROM transfers"
                        f" WHERE ({key_of('?1')}) IN (from_account, to_account) ORDER BY id",
                        ("escrow:" + ids["done"],)).fetchall()
    conn.close()
    escrow = "escrow:" + ids["done"]
    assert rows == [("escrow", "wallet:" + ids["poster"], 30, 40, 30),
                    ("payout", escrow, 27, 3, 127), ("fee", escrow, 3, 0, 3)]


def test_a_transfer_names_its_task_only_through_the_tasks_escrow(market: Market) -> None:
    """The task of a transfer is stored as its escrow side (schema 14), so a transfer naming another
    task is a bug refused before anything moves."""
    agent = register(market, "Agent")
    with pytest.raises(ValueError, match="escrow"), market.context.store.write() as tx:
        tx.ledger.transfer("wallet:" + agent, "platform:fees", 1, "fee", "some-task", "2026-01-01T00:00:00Z")
    assert market.balance(agent) == 100


def test_a_settled_dispute_whose_split_was_rewritten_is_reported(market_path: Path) -> None:
    with Market(market_path) as market:
        poster, worker, judge = register(market, "Poster"), register(market, "Worker"), register(market, "Judge")
        task = market.post_task(poster, title="disputed", budget=50, review_hours=1, evaluator_id=judge).id
        market.accept_task(task, worker)
        market.complete_task(task, worker, "the work")
        market.reject_task(task, poster, "Not what I asked for")
        market.resolve_task(task, judge, 40, "split")
        assert market.verify_ledger().ok
    tamper(market_path, "UPDATE tasks SET worker_share = 60 WHERE id = ?", task)
    with Market(market_path) as market:
        (check,) = market.verify_ledger().failed()
    assert check.name == "settled_disputes_balanced"
    assert check.offending == ({"task_id": task, "budget": 50, "worker_share": 60, "p": 30, "paid": 20,
                                "refunded": 30},)


@pytest.mark.sqlite_only  # PostgreSQL keeps its foreign keys: no transfer names a missing account there
@pytest.mark.parametrize("key", [GHOST * 4, GHOST * 4 + 1, GHOST * 4 + 2, -6, 7])
def test_a_transfer_to_no_account_unbalances_the_books_and_nothing_else(
        busy_market: tuple[Path, dict[str, str]], key: int) -> None:
    path, _ = busy_market
    tamper(path, "INSERT INTO transfers (from_account, to_account, amount, kind, from_balance, to_balance, at)"
                 " VALUES (3, ?, 5, 'grant', 0, 5, 0)", key)
    with Market(path) as market:
        (check,) = market.verify_ledger().failed()
    assert (check.name, check.offending) == ("balanced", ({"sum": -5},))


@pytest.mark.sqlite_only  # which statements SQLite runs
def test_the_checks_over_every_row_read_each_table_once(busy_market: tuple[Path, dict[str, str]]) -> None:
    """At 1 M tasks a pass over the transfers is seconds: the audit reads them once for every
    check (without a GROUP BY, which sorted a million accounts on disk), and the counters' recount
    twice (each with a handful of groups)."""
    path, _ = busy_market
    with Market(path) as market, market.context.store.read() as tx:
        statements: list[str] = []
        tx.ledger.conn.set_trace_callback(statements.append)
        try:
            tx.ledger.audit(["open", "assigned", "submitted", "disputed"])
            audited = list(statements)
            statements.clear()
            tx.counters.mismatches()
        finally:
            tx.ledger.conn.set_trace_callback(None)
    reads = [s for s in audited if re.search(r"\bFROM (transfers|accounts|tasks)\b(?! WHERE rowid = )", s)
             and "MAX(" not in s]
    assert [re.search(r"\bFROM (\w+)", s).group(1) for s in reads] == ["transfers", "accounts", "tasks"]
    assert not any("GROUP BY" in s for s in audited)
    assert sum(s.count("FROM transfers") for s in statements) == 2
