"""``agentmarket simulate`` and ``agentmarket demo --headless``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from agentmarket_tui.cli import main
from engine import Market

from .conftest import one_error_line


def _simulate(*args: str):
    return CliRunner().invoke(main, ["simulate", *args], catch_exceptions=False)


def test_simulate_is_deterministic_for_a_seed_and_verifies_the_ledger() -> None:
    first = _simulate("--agents", "20", "--tasks", "500", "--seed", "4")
    second = _simulate("--agents", "20", "--tasks", "500", "--seed", "4")
    assert first.exit_code == second.exit_code == 0
    summary, throughput = first.stdout.splitlines()[:-1], first.stdout.splitlines()[-1]
    assert summary == second.stdout.splitlines()[:-1]
    assert "lifecycles/s" in throughput
    assert "tasks posted      500 " in first.stdout
    assert summary[-1].endswith("verifies")
    other = _simulate("--agents", "20", "--tasks", "500", "--seed", "5")
    assert other.stdout.splitlines()[:-1] != summary


def test_simulate_keeps_its_market_in_a_new_file_only(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    assert _simulate("--agents", "5", "--tasks", "50", "--db", str(db)).exit_code == 0
    with Market(db) as market:
        assert market.stats().agents == 5
        assert market.verify_ledger().ok
    again = _simulate("--agents", "5", "--tasks", "50", "--db", str(db))
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_simulate_rejects_bad_sizes() -> None:
    assert _simulate("--agents", "0").exit_code == 2
    assert _simulate("--tasks", "many").exit_code == 2


def test_demo_runs_offline_and_its_agents_complete_tasks(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--db", str(db), "--headless", "--steps", "40", "--interval", "0"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "ledger verifies" in result.stdout
    with Market(db) as market:
        statuses = market.stats().tasks
        completed_before_reuse = statuses["completed"]
    assert {"open", "completed", "cancelled", "failed"} <= set(statuses)
    assert any(" completed '" in line for line in result.stdout.splitlines())

    reused = CliRunner().invoke(main, ["demo", "--db", str(db), "--headless", "--steps", "40", "--interval", "0"],
                                catch_exceptions=False)
    assert reused.exit_code == 0
    with Market(db) as market:
        assert market.stats().agents == 12  # the same demo, not a second one
        assert market.stats().tasks["completed"] > completed_before_reuse


def test_demo_without_headless_needs_the_app_or_says_so(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "agentmarket_tui.app", None)  # as if the app were not installed
    result = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "d.db")], catch_exceptions=False)
    assert result.exit_code == 1
    assert "--headless" in one_error_line(result)
