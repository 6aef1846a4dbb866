"""Parameter sweeps: every combination of parameter values, each with several seeds, on a process pool.

A sweep gives a *tidy* table (one row per run and measure) and a *summary* table
(per cell of the grid and measure: the number of runs, the mean and a 95 % interval
from Student's t). Finished runs are kept on disk one file each, so an interrupted
sweep resumes where it stopped when run again with the same output directory.
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import tables
from .collector import Collector
from .runner import PARAMETERS, Scenario, run_scenario

#: Student's t at 0.975 for 1–30 degrees of freedom (beyond: the normal 1.96 plus a small correction).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)
#: Samples each run's series keeps (the sweep's tables use the run's last one).
SAMPLES_PER_RUN = 50


class SweepInterrupted(Exception):
    """The sweep stopped early (Ctrl-C); finished runs are on disk under ``out``."""

    def __init__(self, done: int, total: int, out: Path | None) -> None:
        self.done, self.total, self.out = done, total, out
        where = f" and kept in {out}" if out is not None else ""
        super().__init__(f"interrupted: {done} of {total} runs finished{where}")


def t975(df: int) -> float:
    """Student's t quantile at 0.975 for ``df`` degrees of freedom (two-sided 95 %)."""
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def interval(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """(mean, low, high) of a 95 % t interval for the mean; low and high are None for one value."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def grid(params: Mapping[str, Sequence[Any]], seeds: Sequence[int], base: Scenario = Scenario()) -> list[Scenario]:
    """Every combination of ``params`` values (in the given order), each with every seed.

    Raises:
        ValueError: an unknown parameter, an empty value list, a value out of bounds, or no seeds.
    """
    if not seeds:
        raise ValueError("a sweep needs at least one seed")
    for name, values in params.items():
        if name not in PARAMETERS:
            raise ValueError(f"unknown parameter {name!r}; choose from {', '.join(PARAMETERS)}")
        if not values:
            raise ValueError(f"{name} needs at least one value")
    names = list(params)
    return [replace(base, **dict(zip(names, combo)), seed=seed)
            for combo in itertools.product(*(params[n] for n in names)) for seed in seeds]


def run_key(scenario: Scenario) -> str:
    """A run's file name stem: every parameter and the seed, e.g. ``agents-50_..._seed-3``."""
    return "_".join(f"{k}-{v}" for k, v in scenario.params().items())


def run_one(scenario: Scenario) -> dict[str, Any]:
    """Run one scenario and return its record: params, end-of-run measures, model series.

    The measures are the collector's last model row, except that ``throughput_per_hour``
    covers the whole run, plus ``ledger_ok`` (1 or 0).
    """
    collector = Collector(every=max(1, scenario.tasks // SAMPLES_PER_RUN), agent_level=False)
    run = run_scenario(scenario, collector=collector)
    last = collector.last()
    hours = last["hours"] or 0
    measures = {k: v for k, v in last.items() if k not in ("step", "hours")}
    measures["throughput_per_hour"] = round(measures["tasks_completed"] / hours, 6) if hours else 0.0
    measures["ledger_ok"] = int(run.summary.ledger_ok)
    return {"params": scenario.params(), "measures": measures, "series": collector.model_rows,
            "series_columns": collector.model_columns}


def _quiet_worker() -> None:
    # Ctrl-C is the parent's to handle: it stops the pool and keeps what finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class Sweep:
    """A sweep's runs (in grid order) and the tables derived from them."""

    varied: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def param_columns(self) -> list[str]:
        return [*self.varied, "seed"]

    def tidy(self) -> list[dict[str, Any]]:
        """One row per run and measure: ``run``, the varied parameters, ``seed``, ``measure``, ``value``."""
        rows = []
        for record in self.records:
            params = record["params"]
            head = {"run": run_key(Scenario(**params)), **{k: params[k] for k in self.param_columns}}
            rows.extend({**head, "measure": m, "value": v} for m, v in record["measures"].items())
        return rows

    def summary(self) -> list[dict[str, Any]]:
        """Per cell (varied parameters) and measure: ``n``, ``mean``, ``ci_low``, ``ci_high`` (95 %, t)."""
        cells: dict[tuple[Any, ...], dict[str, list[float]]] = {}
        for record in self.records:
            cell = tuple(record["params"][k] for k in self.varied)
            for measure, value in record["measures"].items():
                values = cells.setdefault(cell, {}).setdefault(measure, [])
                if value is not None:
                    values.append(value)
        rows = []
        for cell, measures in cells.items():
            for measure, values in measures.items():
                mean, low, high = interval(values) if values else (None, None, None)
                rows.append({**dict(zip(self.varied, cell)), "measure": measure, "n": len(values),
                             "mean": _round(mean), "ci_low": _round(low), "ci_high": _round(high)})
        return rows

    @property
    def tidy_columns(self) -> list[str]:
        return ["run", *self.param_columns, "measure", "value"]

    @property
    def summary_columns(self) -> list[str]:
        return [*self.varied, "measure", "n", "mean", "ci_low", "ci_high"]

    def write(self, out: str | Path, fmt: str = "csv") -> list[Path]:
        """Write ``tidy.<fmt>`` and ``summary.<fmt>`` into ``out`` (csv, jsonl or parquet)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        return [tables.write(out / f"tidy.{fmt}", self.tidy(), self.tidy_columns),
                tables.write(out / f"summary.{fmt}", self.summary(), self.summary_columns)]

    def to_pandas(self) -> tuple[Any, Any]:
        """The (tidy, summary) tables as pandas DataFrames (needs the ``sim`` extra)."""
        return (tables.to_pandas(self.tidy(), self.tidy_columns),
                tables.to_pandas(self.summary(), self.summary_columns))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _load(path: Path, scenario: Scenario) -> dict[str, Any] | None:
    """A finished run's record from disk, if it is there whole and is this scenario's."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if record.get("params") == scenario.params() else None


def _save(path: Path, record: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record), encoding="utf-8")
    os.replace(partial, path)  # a run file is there whole or not at all


def sweep(
    params: Mapping[str, Sequence[Any]],
    seeds: int | Iterable[int] = 5,
    *,
    base: Scenario = Scenario(),
    out: str | Path | None = None,
    workers: int | None = None,
    on_run: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Run every combination of ``params`` with each seed, ``workers`` runs at a time.

    Args:
        params: parameter name -> values to try (names from ``PARAMETERS``).
        seeds: how many seeds (0, 1, ...) or which ones.
        base: the scenario the varied parameters replace values of.
        out: keep each finished run here (``runs/<key>.json``); runs already there are
            reused, so a sweep interrupted before resumes when called again.
        workers: processes to run on (default: the machine's cores); 1 runs in this process.
        on_run: called with (finished, total) as runs finish.

    Returns:
        The sweep, its records in grid order.

    Raises:
        ValueError: an unknown parameter, a value out of bounds, no seeds.
        SweepInterrupted: Ctrl-C; finished runs are kept under ``out``.
        OSError: ``out`` cannot be written.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    scenarios = grid(params, seed_list, base)
    runs_dir = None if out is None else Path(out) / "runs"
    if runs_dir is not None:
        runs_dir.mkdir(parents=True, exist_ok=True)
    records: dict[int, dict[str, Any]] = {}
    todo = []
    for index, scenario in enumerate(scenarios):
        found = None if runs_dir is None else _load(runs_dir / f"{run_key(scenario)}.json", scenario)
        if found is not None:
            records[index] = found
        else:
            todo.append(index)
    total = len(scenarios)

    def finished(index: int, record: dict[str, Any]) -> None:
        if runs_dir is not None:
            _save(runs_dir / f"{run_key(scenarios[index])}.json", record)
        records[index] = record
        if on_run is not None:
            on_run(len(records), total)

    if on_run is not None:
        on_run(len(records), total)
    workers = workers or os.cpu_count() or 1
    try:
        if workers == 1 or len(todo) <= 1:
            for index in todo:
                finished(index, run_one(scenarios[index]))
        else:
            _run_pool(scenarios, todo, min(workers, len(todo)), finished)
    except KeyboardInterrupt:
        raise SweepInterrupted(len(records), total, None if out is None else Path(out)) from None
    return Sweep(list(params), [records[i] for i in range(total)])


def _run_pool(scenarios: list[Scenario], todo: list[int], workers: int,
              finished: Callable[[int, dict[str, Any]], None]) -> None:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = context.Pool(workers, initializer=_quiet_worker)
    try:
        for index, record in pool.imap_unordered(_indexed, [(i, scenarios[i]) for i in todo]):
            finished(index, record)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _indexed(job: tuple[int, Scenario]) -> tuple[int, dict[str, Any]]:
    index, scenario = job
    return index, run_one(scenario)

