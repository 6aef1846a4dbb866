"""The Simulation view: a seeded simulation runs in a worker and its series are charted as they grow."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual_plotext import PlotextPlot

from agentmarket_tui.screens.simulation import CHARTS, SimulationScreen

from .snapshot_app import build_app, keys

SIZES = pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SimulationScreen, "PACE", 0)


@SIZES
def test_simulation_view(snap_compare: Any, size: tuple[int, int]) -> None:
    """The view after its run: six series, the run's progress, and the ledger verified."""
    assert snap_compare(build_app(), terminal_size=size, run_before=keys("s"))


async def grow_and_restart() -> None:
    app = build_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await keys("s")(pilot)
        screen = app.screen
        assert isinstance(screen, SimulationScreen)
        first = list(screen.rows)
        assert first[0]["step"] == 0 and first[-1]["tasks_posted"] == screen.SCENARIO.tasks
        for column, _, _ in CHARTS:
            assert len(screen.series(column)) >= len(first) - 1
            assert screen.query_one(f"#chart-{column}", PlotextPlot).plt.build().strip()  # drawn
        assert "ledger verifies" in str(screen.query_one("#simulation-status").render())
        await keys("n")(pilot)
        assert screen.scenario.seed == 1 and screen.rows and screen.rows != first
        names = {agent.name for agent in app.client.list_agents(limit=100).items}
        assert not any(name.endswith("-1") for name in names)  # simulated agents never join the app's market


def test_the_series_grow_and_the_next_seed_starts_over() -> None:
    asyncio.run(grow_and_restart())
