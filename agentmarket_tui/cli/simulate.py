"""``agentmarket simulate``: a seeded crowd of simulated agents trading, then a summary;
``agentmarket simulate sweep``: the same over a grid of parameters and seeds."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.simulation import BUILTIN, BY_NAME, PARAMETERS, Collector, Scenario, run_scenario
from engine.simulation.sweep import SweepInterrupted, grid, sweep as run_sweep
from engine.simulation.tables import FORMATS, MissingExtra, require


class BadUsage(click.ClickException):
    """A bad option or parameter: one line on stderr, exit code 2."""

    exit_code = 2


class _OneLineErrors:
    """Click's own usage errors (bad types, missing values) as one line and exit 2, like ours."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        except click.UsageError as exc:
            raise BadUsage(exc.format_message()) from None


class _Group(_OneLineErrors, click.Group):
    pass


class _Command(_OneLineErrors, click.Command):
    pass


def _check(build: Callable[[], Any]) -> Any:
    """``build()``, with a ValueError (a parameter out of bounds) as a usage error."""
    try:
        return build()
    except ValueError as exc:
        raise BadUsage(str(exc)) from None


def _writable(path: Path, *, directory: bool = False) -> None:
    """Fail now, in one line, if ``path`` (a file, or a directory to fill) cannot be written."""
    folder = path if directory else path.parent
    probe = folder / f".agentmarket-probe-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadUsage(f"cannot write to {path}: {exc.strerror or exc}") from None


def _output(path: str | None, *, plot: bool = False) -> Path | None:
    """Check an output file's suffix, its extra and that it can be written."""
    if path is None:
        return None
    out = Path(path)
    if plot:
        _extra("matplotlib", "plot")
    elif out.suffix.lower() not in FORMATS:
        raise BadUsage(f"{path}: unknown table format {out.suffix!r}; use one of {', '.join(FORMATS)}")
    elif out.suffix.lower() == ".parquet":
        _extra("pyarrow", "sim")
    _writable(out)
    return out


def _extra(module: str, extra: str) -> None:
    try:
        require(module, extra)
    except MissingExtra as exc:
        raise click.ClickException(str(exc)) from None


def _progress(total: int, label: str) -> Any:
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)


@click.group(cls=_Group, invoke_without_command=True)
@click.option("--agents", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="How many simulated agents.")
@click.option("--tasks", type=click.IntRange(1, 10_000_000), default=1000, show_default=True,
              help="How many tasks they post in all.")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same summary.")
@click.option("--fee-percent", type=click.IntRange(0, 100), default=10, show_default=True,
              help="The platform's share of each completed task's budget.")
@click.option("--flaky-share", type=click.FloatRange(0, 1), default=None,
              help="Make this share of the agents flaky (default: strategies are drawn).")
@click.option("--strategies", default=None, metavar="NAMES",
              help=f"Comma-separated strategies to draw from: {', '.join(BY_NAME)} "
                   f"(default: {', '.join(s.name for s in BUILTIN)}).")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Keep the simulated market in this new file (default: in memory).")
@click.option("--series", type=click.Path(dir_okay=False), default=None,
              help="Write the model-level series here (.csv, .jsonl or .parquet).")
@click.option("--agent-series", type=click.Path(dir_okay=False), default=None,
              help="Write the agent-level series here (.csv, .jsonl or .parquet).")
@click.option("--every", type=click.IntRange(1), default=None,
              help="Sample the series every N steps (default: about 200 samples per run).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw balances over time, the Lorenz curve and reputation against skill (needs the plot extra).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def simulate(ctx: click.Context, agents: int, tasks: int, seed: int, fee_percent: int, flaky_share: float | None,
             strategies: str | None, db: str | None, series: str | None, agent_series: str | None,
             every: int | None, plot: str | None, as_json: bool) -> None:
    """Run simulated agents posting, taking, doing and rating work; print where the credits went.

    The summary (and every series file) is the same for the same arguments and seed; the
    throughput line after it is not. Exits 1 if the ledger does not verify at the end,
    2 on a bad option. See also: agentmarket simulate sweep --help.
    """
    if ctx.invoked_subcommand is not None:
        return
    if db is not None and Path(db).exists() and Path(db).stat().st_size > 0:
        raise BadUsage(f"{db} already exists; a simulation needs a new market file")
    pool = _strategies(strategies)
    outputs = {"series": _output(series), "agent_series": _output(agent_series), "plot": _output(plot, plot=True)}
    scenario = _check(lambda: Scenario(agents=agents, tasks=tasks, seed=seed, fee_percent=fee_percent,
                                       flaky_share=flaky_share))
    collector = None
    if any(outputs.values()):
        collector = Collector(every or max(1, tasks // 200), agent_level=bool(agent_series or plot))
    with _progress(tasks, "simulating") as bar:
        done = 0

        def advance(posted: int) -> None:
            nonlocal done
            if posted - done >= 100 or posted == tasks:
                bar.update(posted - done)
                done = posted

        run = run_scenario(scenario, path=db or ":memory:", strategies=pool, collector=collector, on_step=advance)
    summary = run.summary
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo("\n".join(summary.lines()))
        click.echo(summary.throughput())
    if collector is not None:
        collector.write(outputs["series"], outputs["agent_series"])
        if outputs["plot"] is not None:
            from engine.simulation.plots import plot_run

            plot_run(collector, outputs["plot"])
        written = [str(p) for p in outputs.values() if p is not None]
        click.echo(f"wrote {', '.join(written)}", err=True)
    if not summary.ledger_ok:
        raise SystemExit(1)


def _strategies(names: str | None) -> tuple[Any, ...]:
    if names is None:
        return BUILTIN
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in BY_NAME]
    if unknown or not chosen:
        raise BadUsage(f"unknown strategy {unknown[0]!r}; choose from {', '.join(BY_NAME)}" if unknown
                       else "--strategies needs at least one name")
    return tuple(BY_NAME[n] for n in chosen)


def _grid(params: tuple[str, ...]) -> dict[str, list[Any]]:
    """``NAME=V1,V2`` options as {name: values}, each value checked against its bounds."""
    values: dict[str, list[Any]] = {}
    for option in params:
        name, sep, text = option.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not text.strip():
            raise BadUsage(f"--param {option!r}: write NAME=VALUE[,VALUE...]")
        if name not in PARAMETERS:
            raise BadUsage(f"unknown parameter {name!r}; choose from {', '.join(PARAMETERS)}")
        if name in values:
            raise BadUsage(f"parameter {name!r} given twice")
        values[name] = [_check(lambda v=v: PARAMETERS[name].parse(v.strip())) for v in text.split(",")]
    return values


@simulate.command("sweep", cls=_Command)
@click.option("--param", "params", multiple=True, required=True, metavar="NAME=V1,V2",
              help=f"A parameter and the values to try; repeat for a grid. Names: {', '.join(PARAMETERS)}.")
@click.option("--seeds", type=int, default=5, show_default=True, help="Runs per cell, with seeds 0, 1, ...")
@click.option("--out", type=click.Path(file_okay=False), default="sweep-results", show_default=True,
              help="Where finished runs and the tables go; rerun with the same --out to resume.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True,
              help="The tables' format (parquet needs the sim extra).")
@click.option("--workers", type=int, default=None, help="Processes to run on (default: every core).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Plot each measure against each parameter with 95 % intervals (needs the plot extra).")
def sweep(params: tuple[str, ...], seeds: int, out: str, fmt: str, workers: int | None, plot: str | None) -> None:
    """Run every combination of the --param values, --seeds times each, on a process pool.

    Writes OUT/tidy.<format> (a row per run and measure), OUT/summary.<format> (per cell
    and measure: n, mean and a 95 % interval) and OUT/runs/ (one file per finished run).
    Ctrl-C keeps the finished runs; the same command resumes. Exits 2 on a bad parameter.

    Example: agentmarket simulate sweep --param fee_percent=5,10,15 --param flaky_share=0,0.2 --seeds 5
    """
    values = _grid(params)
    if seeds < 1:
        raise BadUsage(f"--seeds must be at least 1, not {seeds}")
    if workers is not None and workers < 1:
        raise BadUsage(f"--workers must be at least 1, not {workers}")
    if fmt == "parquet":
        _extra("pyarrow", "sim")
    plot_path = _output(plot, plot=True)
    out_dir = Path(out)
    _writable(out_dir, directory=True)
    total = len(_check(lambda: grid(values, list(range(seeds)))))
    with _progress(total, "sweeping") as bar:
        shown = 0

        def advance(done: int, _total: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        try:
            result = run_sweep(values, seeds, out=out_dir, workers=workers, on_run=advance)
        except SweepInterrupted as stop:
            click.echo(f"\n{stop}; run the same command again to resume", err=True)
            raise SystemExit(130) from None
    written = result.write(out_dir, fmt)
    if plot_path is not None:
        from engine.simulation.plots import plot_sweep

        written.append(plot_sweep(result, plot_path))
    failed = sum(1 for r in result.records if not r["measures"]["ledger_ok"])
    click.echo(f"{total} runs; wrote {', '.join(str(p) for p in written)}")
    if failed:
        raise click.ClickException(f"the ledger did not verify in {failed} runs")
