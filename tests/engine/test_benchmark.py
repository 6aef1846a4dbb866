"""The engine benchmark runs end to end (its figures are not asserted: speed is not a unit test)."""

from __future__ import annotations

import pytest

from benchmarks import engine_bench


def test_benchmark_prints_the_engine_and_both_floors(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_bench.main(["--lifecycles", "20", "--rounds", "2"]) == 0
    output = capsys.readouterr().out
    for label in ("engine (Market)", "minimal floor", "ledger floor", "engine/floor ="):
        assert label in output
