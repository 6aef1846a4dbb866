"""``agentmarket demo``: the terminal app on a demo market whose agents keep trading."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine import Market
from engine.runtime import open_market
from engine.simulation.demo import LiveMarket, LiveMarketThread, open_demo

from ..client import local_client

from .options import edge_config


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="The demo market file (reused if it holds a demo; default: a fresh temporary file).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo's history and agents.")
@click.option("--interval", type=click.FloatRange(0, 60), default=1.0, show_default=True,
              help="Seconds between two actions of the simulated agents.")
@click.option("--headless", is_flag=True, help="No terminal app: print what the agents do.")
@click.option("--steps", type=click.IntRange(1), default=None, help="With --headless: stop after this many actions.")
@click.option("--seconds", type=click.FloatRange(0), default=None, help="With --headless: stop after this long.")
def demo(db: str | None, seed: int, interval: float, headless: bool, steps: int | None,
         seconds: float | None) -> None:
    """A demo market with a dozen agents and some history; you are the agent 'Quill'.

    Eleven simulated agents post, accept, complete and rate work while it runs, making
    their results locally (no network needed).
    """
    launch = None if headless else _app_launcher()
    path = db or str(Path(tempfile.mkdtemp(prefix="agentmarket-demo-")) / "demo.db")
    with open_market(path, edge_config()) as running:
        market = running.market
        opened = open_demo(market, seed)
        live = LiveMarket(market, opened.agents, random.Random(seed + 1))
        click.echo(f"Demo market: {path}", err=True)
        if launch is None:
            _run_headless(market, live, interval, steps, seconds)
        else:
            thread = LiveMarketThread(live, interval)
            thread.start()
            try:
                with local_client(running, opened.you_key) as client:
                    launch(client)
            finally:
                thread.stop()


def _run_headless(market: Market, live: LiveMarket, interval: float, steps: int | None,
                  seconds: float | None) -> None:
    """Tick until ``steps`` actions or ``seconds`` passed (Ctrl-C stops too); then the tally."""
    deadline = None if seconds is None else time.monotonic() + seconds
    done = 0
    try:
        while (steps is None or done < steps) and (deadline is None or time.monotonic() < deadline):
            happened = live.tick()
            done += 1
            if happened:
                click.echo(happened)
            if interval:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    stats = market.stats()
    click.echo("tasks: " + ", ".join(f"{status} {count}" for status, count in sorted(stats.tasks.items())))
    click.echo(f"fees collected: {stats.fees_collected}; ledger "
               + ("verifies" if market.verify_ledger().ok else "DOES NOT VERIFY"))


def _app_launcher() -> Callable[..., Any]:
    """The terminal app's ``launch``, or a one-line error if the app is not available."""
    try:
        from ..app import launch
    except ImportError:
        raise click.ClickException("the terminal app is not installed here; try 'agentmarket demo --headless'") \
            from None
    return launch
