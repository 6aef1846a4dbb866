"""Series: what the collector records, custom measures, byte-identical files, Parquet and pandas."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.simulation import (
    AGENT_MEASURES,
    MODEL_MEASURES,
    AdaptivePricer,
    Collector,
    ReputationSeeker,
    Scenario,
    Strategy,
    run_scenario,
)
from engine.simulation import tables
from engine.simulation.collector import top_share


def _run(seed: int = 3, **collector_options: object):
    collector = Collector(**{"every": 25, **collector_options})  # type: ignore[arg-type]
    return run_scenario(Scenario(agents=12, tasks=300, seed=seed, fee_percent=10), collector=collector)


def test_the_collector_samples_model_and_agent_measures_from_the_ledger() -> None:
    run = _run()
    rows = run.collector.model_rows
    assert [r["step"] for r in rows][:3] == [0, 25, 50]
    assert rows[-1]["tasks_posted"] == 300 and rows[-1]["step"] == run.collector.model_rows[-1]["step"]
    assert list(rows[0]) == ["step", "hours", *MODEL_MEASURES]
    last, summary = rows[-1], run.summary
    assert last["tasks_completed"] == summary.tasks_by_status["completed"]
    assert last["fees_collected"] == summary.fees_collected
    assert last["credits_in_wallets"] + last["credits_in_escrow"] + last["fees_collected"] == summary.credits_issued
    assert last["gini"] == pytest.approx(summary.gini, abs=1e-4)
    assert 0 < last["top10_work_share"] <= 1 and last["throughput_per_hour"] > 0
    assert 1 <= last["mean_reputation"] <= 5
    final = [r for r in run.collector.agent_rows if r["step"] == last["step"]]
    assert len(final) == 12 and list(final[0]) == ["step", "agent_id", *AGENT_MEASURES]
    assert sum(r["balance"] for r in final) == last["credits_in_wallets"]
    assert sum(r["tasks_done"] for r in final) == last["tasks_completed"]
    assert all(isinstance(r["missed_claims"], int) and r["missed_claims"] >= 0 for r in final)


def test_users_add_measures_as_functions() -> None:
    run = _run(model={"backlog": lambda sim: len(sim.backlog)},
               agents={"rich": lambda sim, me: sim.snapshot.balances[me.id] > 150})
    assert "backlog" in run.collector.model_columns and "rich" in run.collector.agent_columns
    assert all(isinstance(r["backlog"], int) for r in run.collector.model_rows)
    with pytest.raises(ValueError, match="taken"):
        Collector(model={"gini": lambda sim: 0})
    with pytest.raises(ValueError):
        Collector(every=0)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_the_same_seed_writes_byte_identical_series(tmp_path: Path, suffix: str) -> None:
    files = []
    for name in ("a", "b"):
        model, agents = tmp_path / f"{name}-model{suffix}", tmp_path / f"{name}-agents{suffix}"
        _run(seed=8).collector.write(model, agents)
        files.append((model.read_bytes(), agents.read_bytes()))
    assert files[0] == files[1]
    other = tmp_path / f"other{suffix}"
    _run(seed=9).collector.write(other)
    assert other.read_bytes() != files[0][0]


def test_series_load_back_as_written(tmp_path: Path) -> None:
    collector = _run().collector
    for suffix in (".csv", ".jsonl"):
        path = tmp_path / f"model{suffix}"
        collector.write(path)
        assert tables.read(path) == collector.model_rows
    with pytest.raises(ValueError, match="unknown table format"):
        collector.write(tmp_path / "model.xlsx")


def test_parquet_and_pandas_with_the_sim_extra(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    collector = _run().collector
    collector.write(tmp_path / "m.parquet", tmp_path / "a.parquet")
    assert tables.read(tmp_path / "m.parquet") == collector.model_rows
    assert tables.read(tmp_path / "a.parquet") == collector.agent_rows
    model, agents = collector.to_pandas()
    assert list(model.columns) == collector.model_columns and len(agents) == len(collector.agent_rows)
    assert pd.read_parquet(tmp_path / "m.parquet")["gini"].tolist() == model["gini"].tolist()


def test_top_share() -> None:
    assert top_share([]) == 0.0
    assert top_share([0, 0]) == 0.0
    assert top_share([10] + [0] * 9) == 1.0
    assert top_share([1] * 20) == 0.1


def test_the_adaptive_pricer_moves_its_price_in_the_market() -> None:
    collector = Collector(every=50)
    run = run_scenario(Scenario(agents=10, tasks=400, seed=2), strategies=[AdaptivePricer], collector=collector)
    prices = [r["mean_price"] for r in collector.model_rows]
    assert len(set(prices)) > 3  # busy agents charge more, idle ones less
    final = [r for r in collector.agent_rows if r["step"] == collector.model_rows[-1]["step"]]
    assert all(r["price"] >= AdaptivePricer.floor for r in final)
    assert run.summary.ledger_ok


def test_the_reputation_seeker_only_takes_what_it_does_well() -> None:
    collector = Collector(every=100)
    seeker = run_scenario(Scenario(agents=16, tasks=400, seed=5), strategies=[ReputationSeeker, Strategy],
                          collector=collector)
    final = [r for r in collector.agent_rows if r["step"] == collector.model_rows[-1]["step"]]
    seekers = [r for r in final if r["strategy"] == "reputation"]
    assert seekers and all(r["tasks_done"] == 0 for r in seekers if r["skill"] < ReputationSeeker.bar)
    assert any(r["tasks_done"] > 0 for r in seekers)
    assert seeker.summary.ledger_ok
