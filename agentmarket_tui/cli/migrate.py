"""``agentmarket migrate --from SOURCE --to TARGET``: move a market between stores (SPEC §13)."""

from __future__ import annotations

import click

from engine import Market
from engine.storage.copying import copy_market

from .output import emit


@click.command()
@click.option("--from", "source", required=True, metavar="DB",
              help="The market to copy: a file or a postgresql:// URL.")
@click.option("--to", "target", required=True, metavar="DB",
              help="An empty database to copy it into: a new file or a postgresql:// URL.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def migrate(source: str, target: str, as_json: bool) -> None:
    """Copy a market with all its history from one store to another (e.g. a SQLite file to
    PostgreSQL, or back for a backup), then verify the ledger and counters where it arrived.

    Refuses a target that already holds a market. Exits 1 if the copy does not verify.
    """
    copied = copy_market(source, target)
    with Market(target) as market:
        report = market.verify_ledger()
        counters = market.verify_counters()
        where = market.path
    failed = [c.name for c in (*report.failed(), *counters.failed())]
    emit(as_json, {"copied": copied, "verified": not failed, "failed_checks": failed},
         lambda: click.echo(f"Copied {copied['agents']} agents, {copied['tasks']} tasks, {copied['transfers']} "
                            f"transfers and {copied['events']} events to {where}; "
                            + ("ledger and counters verify." if not failed
                               else "it does NOT verify: " + ", ".join(failed))))
    if failed:
        raise SystemExit(1)
