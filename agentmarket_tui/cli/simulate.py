"""``agentmarket simulate``: a seeded crowd of simulated agents trading, then a summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.simulation import run_simulation


@click.command()
@click.option("--agents", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="How many simulated agents.")
@click.option("--tasks", type=click.IntRange(1, 10_000_000), default=1000, show_default=True,
              help="How many tasks they post in all.")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same summary.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Keep the simulated market in this new file (default: in memory).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def simulate(agents: int, tasks: int, seed: int, db: str | None, as_json: bool) -> None:
    """Run simulated agents posting, taking, doing and rating work; print where the credits went.

    The summary is the same for the same arguments and seed; the throughput line after
    it is not. Exits 1 if the ledger does not verify at the end.
    """
    if db is not None and Path(db).exists() and Path(db).stat().st_size > 0:
        raise click.UsageError(f"{db} already exists; a simulation needs a new market file")
    with click.progressbar(length=tasks, label="simulating", file=sys.stderr,
                           show_pos=True) as bar:
        done = 0

        def advance(posted: int) -> None:
            nonlocal done
            if posted - done >= 100 or posted == tasks:
                bar.update(posted - done)
                done = posted

        summary = run_simulation(agents, tasks, seed, path=db or ":memory:", on_step=advance)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo("\n".join(summary.lines()))
        click.echo(summary.throughput())
    if not summary.ledger_ok:
        raise SystemExit(1)
