"""``agentmarket wallet [--transactions]``: your credits and their history."""

from __future__ import annotations

import click

from engine import views

from ..client import MarketClient

from ._client import Target, client_command
from .output import cursor_option, emit, footer, print_record, print_table


@click.command()
@click.option("--transactions", is_flag=True, help="List the wallet's transfers, newest first.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@cursor_option
@client_command
def wallet(client: MarketClient, target: Target, transactions: bool, limit: int, offset: int,
           cursor: str | None) -> None:
    """Show your balance, escrowed, earned and spent credits (needs --api-key)."""
    if not transactions:
        data = views.wallet(client.wallet())
        emit(target.as_json, data, lambda: print_record(data))
        return
    page = client.transactions(limit=limit, offset=offset, cursor=cursor)

    def human() -> None:
        print_table(
            ["when", "kind", "amount", "balance", "task", "memo"],
            [[t.created_at, t.kind, f"{t.amount:+d}", t.balance_after, t.task_id, t.memo] for t in page.items],
            empty="no transactions",
        )
        footer(page, cursor)

    emit(target.as_json, [views.transaction(t) for t in page.items], human)
