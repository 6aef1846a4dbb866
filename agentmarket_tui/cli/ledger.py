"""``agentmarket ledger verify``: check every invariant of the credit ledger."""

from __future__ import annotations

import json

import click

from engine import Market
from engine.records import LedgerReport
from engine.views import ledger_report

from .options import db_option


@click.group()
def ledger() -> None:
    """Inspect the credit ledger."""


@ledger.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(db: str, as_json: bool) -> None:
    """Check the ledger: balanced, no negative wallets, escrow = budget, cached balances = transfers;
    and the counters behind totals and stats against a recount.

    Exits 0 when every invariant holds, 1 otherwise.
    """
    with Market(db) as market:
        ledger_checks, counter_checks = market.verify_ledger(), market.verify_counters()
    report = LedgerReport(checks=ledger_checks.checks + counter_checks.checks)
    if as_json:
        click.echo(json.dumps(ledger_report(report), indent=2))
    else:
        for check in report.checks:
            mark = click.style("ok  ", fg="green") if check.holds else click.style("FAIL", fg="red")
            click.echo(f"{mark}  {check.name}: {check.description}")
            for row in check.offending[:20]:
                click.echo(f"        {json.dumps(row)}")
        click.echo("ledger verifies" if report.ok else
                   "ledger does NOT verify: " + ", ".join(c.name for c in report.failed()))
    if not report.ok:
        raise SystemExit(1)
