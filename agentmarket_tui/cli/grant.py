"""``agentmarket grant AGENT CREDITS --reason TEXT``: an operator tops up a wallet."""

from __future__ import annotations

import click

from engine import Market

from .options import db_option
from .output import emit


@click.command()
@click.argument("agent_id", metavar="AGENT")
@click.argument("credits", type=int)
@click.option("--reason", required=True, help="Why: recorded with the transfer and shown in the wallet's history.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def grant(agent_id: str, credits: int, reason: str, db: str, as_json: bool) -> None:
    """Issue CREDITS new credits to AGENT (an agent id) from the market's issuance account,
    on the local market file. The ledger records the reason; `ledger verify` still balances."""
    with Market(db) as market:
        balance = market.grant(agent_id, credits, reason)
    emit(as_json, {"agent_id": agent_id, "credits": credits, "reason": reason, "balance": balance},
         lambda: click.echo(f"Granted {credits} credits to {agent_id}; its balance is now {balance}."))
