"""The Simulation view: a small seeded simulation runs in a worker and its series grow live.

It runs ``engine.simulation`` on its own in-memory market (never the app's market), so
it needs nothing from the app's backend.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Label, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from engine.simulation import Collector, Scenario, run_scenario

from ..widgets.footer import KeyFooter

#: (series column, label, how to show its latest value)
CHARTS: tuple[tuple[str, str, str], ...] = (
    ("gini", "Gini of balances", "{:.3f}"),
    ("throughput_per_hour", "Tasks completed per simulated hour", "{:,.0f}"),
    ("mean_reputation", "Mean reputation", "{:.2f}"),
    ("fees_collected", "Fees collected", "{:,}"),
    ("credits_in_escrow", "Credits in escrow", "{:,}"),
    ("top10_work_share", "Work done by the busiest 10 %", "{:.0%}"),
)


class _Stopped(Exception):
    """The view was left or restarted; the running simulation stops."""


class SimulationScreen(Screen):
    """Runs ``SCENARIO`` and charts its model-level series as they are sampled.

    Keys: ``n`` runs again with the next seed.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("n", "next_seed", "Next seed")]
    #: the simulation the view runs (small: it is a live picture, not a study)
    SCENARIO = Scenario(agents=30, tasks=1000, seed=0)
    #: steps between samples
    EVERY = 10
    #: seconds to pause after each sample, so the growth is visible (0 in tests)
    PACE = 0.02
    #: at most this many chart updates per second (samples arriving faster are shown together)
    REDRAWS_PER_SECOND = 2

    def __init__(self) -> None:
        super().__init__()
        self.scenario = self.SCENARIO
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Label("Simulation — live, charted over simulated hours", classes="screen-title")
        yield Static(id="simulation-status")
        with Grid(id="simulation-charts"):
            for column, label, _ in CHARTS:
                with Vertical(classes="simulation-chart"):
                    yield Label(label, id=f"label-{column}")
                    yield PlotextPlot(id=f"chart-{column}")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.start()

    def action_next_seed(self) -> None:
        self.scenario = Scenario(**{**self.scenario.params(), "seed": self.scenario.seed + 1})
        self.start()

    def start(self) -> None:
        """(Re)start the simulation in a worker thread; a running one stops."""
        self.rows = []
        self._render_rows(None)
        self.run_worker(self._simulate, thread=True, exclusive=True, group="simulation", exit_on_error=False)

    # -- the worker thread --------------------------------------------------------------
    def _simulate(self) -> None:
        worker = get_current_worker()
        scenario = self.scenario
        pending: list[dict[str, Any]] = []
        shown_at = 0.0

        def sampled(row: dict[str, Any]) -> None:
            nonlocal shown_at
            if worker.is_cancelled:
                raise _Stopped
            pending.append(dict(row))
            if time.monotonic() - shown_at >= 1 / self.REDRAWS_PER_SECOND:
                self.app.call_from_thread(self._add, scenario, pending[:])
                pending.clear()
                shown_at = time.monotonic()
            if self.PACE:
                time.sleep(self.PACE)

        collector = Collector(self.EVERY, agent_level=False, on_sample=sampled)
        try:
            run = run_scenario(scenario, collector=collector)
        except _Stopped:
            return
        self.app.call_from_thread(self._add, scenario, pending)
        self.app.call_from_thread(self._finish, scenario, run.summary.ledger_ok)

    # -- the UI thread ------------------------------------------------------------------
    def _add(self, scenario: Scenario, rows: list[dict[str, Any]]) -> None:
        if scenario is not self.scenario:
            return  # samples of a run that was replaced
        self.rows.extend(rows)
        self._render_rows(None)

    def _finish(self, scenario: Scenario, ledger_ok: bool) -> None:
        if scenario is self.scenario:
            self._render_rows(ledger_ok)

    def series(self, column: str) -> list[tuple[float, float]]:
        """The (simulated hours, value) points of ``column`` sampled so far, as charted."""
        return [(row["hours"], row[column]) for row in self.rows if row[column] is not None]

    def _render_rows(self, ledger_ok: bool | None) -> None:
        s = self.scenario
        status = Text(f"{s.agents} agents, {s.tasks:,} tasks, fee {s.fee_percent} %, seed {s.seed}  (n: next seed)\n")
        if self.rows:
            last = self.rows[-1]
            status.append(f"step {last['step']:,}  ·  {last['hours']:.2f} simulated h  ·  "
                          f"{last['tasks_posted']:,} posted, {last['tasks_completed']:,} completed")
        if ledger_ok is not None:
            status.append("  ·  done, ledger ")
            status.append("verifies" if ledger_ok else "DOES NOT VERIFY", style="bold green" if ledger_ok else "bold red")
        self.query_one("#simulation-status", Static).update(status)
        for column, label, fmt in CHARTS:
            points = self.series(column)
            chart = self.query_one(f"#chart-{column}", PlotextPlot)
            plt = chart.plt
            plt.clear_data()
            if points:
                plt.plot([x for x, _ in points], [y for _, y in points], marker="braille")
            # Lean: no frame, and only each axis's ends labelled, so a small terminal still has rows to draw in.
            plt.frame(False)
            plt.xfrequency(2)
            plt.yfrequency(2)
            chart.refresh()
            shown = fmt.format(points[-1][1]) if points else "–"
            self.query_one(f"#label-{column}", Label).update(f"{label}: {shown}")
