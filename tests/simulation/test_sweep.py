"""Sweeps: the grid, the process pool, tidy and summary tables that load back, intervals."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.simulation import Scenario, sweep
from engine.simulation import tables
from engine.simulation.sweep import grid, interval, run_key, t975

#: The issue's done-when sweep: 3 fees x 2 flaky shares x 5 seeds at 2,000 tasks.
DONE_WHEN = {"fee_percent": [5, 10, 15], "flaky_share": [0, 0.2], "tasks": [2000]}


def test_the_done_when_sweep_runs_on_the_pool_and_its_files_load_back(tmp_path: Path) -> None:
    result = sweep(DONE_WHEN, 5, out=tmp_path, workers=2)
    assert len(result.records) == 30
    assert all(r["measures"]["ledger_ok"] == 1 for r in result.records)
    result.write(tmp_path, "csv")
    result.write(tmp_path, "jsonl")
    for fmt in ("csv", "jsonl"):
        assert tables.read(tmp_path / f"tidy.{fmt}") == result.tidy()
        assert tables.read(tmp_path / f"summary.{fmt}") == result.summary()
    assert len(result.tidy()) == 30 * len(result.records[0]["measures"])
    cells = {(r["fee_percent"], r["flaky_share"]) for r in result.summary()}
    assert cells == {(f, s) for f in (5, 10, 15) for s in (0.0, 0.2)}
    assert all(r["n"] == 5 for r in result.summary() if r["measure"] == "gini")
    # Run again on the same directory: every run is reused, and the tables are the same.
    again = sweep(DONE_WHEN, 5, out=tmp_path, workers=2)
    assert again.tidy() == result.tidy()


def test_a_sweep_repeats_exactly_in_process_and_on_the_pool() -> None:
    params = {"fee_percent": [0, 20], "tasks": [150]}
    serial, pooled = sweep(params, 2, base=Scenario(agents=8), workers=1), sweep(params, 2, base=Scenario(agents=8))
    assert serial.tidy() == pooled.tidy() and serial.summary() == pooled.summary()
    zero_fee = [r for r in serial.tidy() if r["fee_percent"] == 0 and r["measure"] == "fees_collected"]
    assert zero_fee and all(r["value"] == 0 for r in zero_fee)


def test_parquet_and_pandas_tables(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    result = sweep({"fee_percent": [5, 15], "tasks": [100]}, 2, base=Scenario(agents=6), workers=1)
    result.write(tmp_path, "parquet")
    assert tables.read(tmp_path / "tidy.parquet") == result.tidy()
    tidy, summary = result.to_pandas()
    assert len(tidy) == len(result.tidy()) and set(summary.columns) >= {"mean", "ci_low", "ci_high"}


def test_the_grid_and_its_checks() -> None:
    scenarios = grid({"fee_percent": [5, 10], "flaky_share": [0, 0.5]}, [0, 1])
    assert len(scenarios) == 8 and scenarios[0] == Scenario(fee_percent=5, flaky_share=0.0, seed=0)
    assert len({run_key(s) for s in scenarios}) == 8
    with pytest.raises(ValueError, match="unknown parameter 'fees'"):
        grid({"fees": [1]}, [0])
    with pytest.raises(ValueError, match="fee_percent must be from 0 to 100"):
        grid({"fee_percent": [101]}, [0])
    with pytest.raises(ValueError, match="seed"):
        grid({"fee_percent": [1]}, [])


def test_the_95_percent_interval() -> None:
    assert interval([4.0]) == (4.0, None, None)
    mean, low, high = interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and (low, high) == pytest.approx((2 - 4.303 / 3 ** 0.5, 2 + 4.303 / 3 ** 0.5))
    assert t975(1) == 12.706 and 1.96 < t975(200) < 1.98
