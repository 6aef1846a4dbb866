"""The simulation benchmark's same-rows floor writes what the engine writes (its figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import simulate_bench

from engine import Market


def test_the_same_rows_floor_leaves_a_market_the_engine_verifies(tmp_path: Path) -> None:
    path = str(tmp_path / "floor.db")
    simulate_bench.same_rows_floor_lifecycles_per_second(path, 3)
    with Market(path) as market:
        assert market.verify_ledger().ok and market.verify_counters().ok
        assert market.stats().tasks == {"completed": 3} and market.stats().fees_collected == 3
        assert [e.type for e in market.task_timeline("t2")] == ["task.posted", "task.assigned", "task.completed",
                                                                "task.rated"]
        assert market.get_agent("b").total_tasks == 3
        assert market.count_tasks(search="Q3 sales") == 3  # the search index was kept too
