"""Pictures of runs and sweeps, drawn with matplotlib (the ``plot`` extra).

Figures are built on ``matplotlib.figure.Figure`` directly (no pyplot, no display),
so they draw the same in a terminal, a worker process or CI.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .collector import Collector
from .sweep import Sweep
from .tables import require

#: Sweep measures plotted by default, in this order.
SWEEP_MEASURES = ("gini", "top10_work_share", "fees_collected", "mean_reputation", "throughput_per_hour")


def _figure(width: float, height: float) -> Any:
    return require("matplotlib.figure", "plot").Figure(figsize=(width, height), layout="constrained")


def _save(figure: Any, path: str | Path) -> Path:
    path = Path(path)
    # No software/date metadata: the same data gives the same file.
    figure.savefig(path, dpi=110, metadata={"Software": None} if path.suffix.lower() == ".png" else None)
    return path


def lorenz(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """The Lorenz curve of ``values``: (share of holders, share of the total they hold), from (0, 0)."""
    ordered = sorted(max(0.0, float(v)) for v in values)
    total = sum(ordered) or 1.0
    xs, ys, running = [0.0], [0.0], 0.0
    for rank, value in enumerate(ordered, start=1):
        running += value
        xs.append(rank / len(ordered))
        ys.append(running / total)
    return xs, ys


def plot_run(collector: Collector, path: str | Path) -> Path:
    """Balances over time (one line per agent, coloured by strategy), the Lorenz curve of the
    last balances, and reputation against hidden skill.

    Raises:
        MissingExtra: matplotlib is not installed. ValueError: no agent-level rows to draw.
    """
    if not collector.agent_rows:
        raise ValueError("plotting a run needs agent-level series (Collector(agent_level=True))")
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    strategy: dict[str, str] = {}
    hours = {row["step"]: row["hours"] for row in collector.model_rows}
    for row in collector.agent_rows:
        series[row["agent_id"]].append((hours.get(row["step"], 0.0), row["balance"]))
        strategy[row["agent_id"]] = row["strategy"]
    last_step = collector.agent_rows[-1]["step"]
    last = [row for row in collector.agent_rows if row["step"] == last_step]
    names = sorted(set(strategy.values()))
    colours = {name: f"C{i % 10}" for i, name in enumerate(names)}

    figure = _figure(13, 4)
    over_time, curve, skill = figure.subplots(1, 3)
    for agent_id, points in series.items():
        over_time.plot(*zip(*points), color=colours[strategy[agent_id]], linewidth=0.7, alpha=0.6)
    for name in names:
        over_time.plot([], [], color=colours[name], label=name)
    over_time.set(title="Balances over time", xlabel="simulated hours", ylabel="credits")
    over_time.legend(fontsize="small")

    xs, ys = lorenz([row["balance"] for row in last])
    curve.plot(xs, ys, color="C0", label=f"balances (Gini {collector.model_rows[-1]['gini']:.3f})")
    curve.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="equality")
    curve.set(title="Lorenz curve at the end", xlabel="share of agents", ylabel="share of credits")
    curve.legend(fontsize="small")

    for name in names:
        rated = [(r["skill"], r["reputation"]) for r in last if r["strategy"] == name and r["reputation"] is not None]
        if rated:
            skill.scatter(*zip(*rated), s=14, color=colours[name], label=name)
    skill.set(title="Reputation against skill", xlabel="hidden skill", ylabel="reputation", ylim=(0.8, 5.2))
    skill.legend(fontsize="small")
    return _save(figure, path)


def plot_sweep(result: Sweep, path: str | Path, measures: Sequence[str] = SWEEP_MEASURES) -> Path:
    """Each measure against each varied parameter: the mean per cell with its 95 % interval,
    one line per combination of the other parameters.

    Raises:
        MissingExtra: matplotlib is not installed. ValueError: nothing varied or no such measure.
    """
    summary = result.summary()
    known = {row["measure"] for row in summary}
    measures = [m for m in measures if m in known]
    if not result.varied or not measures:
        raise ValueError("a sweep plot needs a varied parameter and a known measure")
    figure = _figure(4.2 * len(result.varied), 3.2 * len(measures))
    axes = figure.subplots(len(measures), len(result.varied), squeeze=False)
    for column, param in enumerate(result.varied):
        others = [p for p in result.varied if p != param]
        for row_number, measure in enumerate(measures):
            ax = axes[row_number][column]
            lines: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
            for row in summary:
                if row["measure"] == measure and row["mean"] is not None:
                    lines[tuple(row[p] for p in others)].append(row)
            for number, (key, rows) in enumerate(sorted(lines.items(), key=lambda kv: str(kv[0]))):
                rows.sort(key=lambda r: r[param])
                x = [r[param] for r in rows]
                y = [r["mean"] for r in rows]
                low = [r["mean"] - (r["ci_low"] if r["ci_low"] is not None else r["mean"]) for r in rows]
                high = [(r["ci_high"] if r["ci_high"] is not None else r["mean"]) - r["mean"] for r in rows]
                label = ", ".join(f"{p}={v}" for p, v in zip(others, key)) or None
                ax.errorbar(x, y, yerr=[low, high], marker="o", capsize=3, color=f"C{number % 10}", label=label)
            ax.set(xlabel=param, ylabel=measure)
            if others and row_number == 0:
                ax.legend(fontsize="small")
    figure.suptitle("Sweep: mean and 95 % interval per cell")
    return _save(figure, path)
