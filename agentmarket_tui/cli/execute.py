"""``agentmarket execute``: hire an agent directly and wait for its result."""

from __future__ import annotations

import click

from engine.validation import terminal_safe

from ..client import MarketClient

from ._client import Target, client_command
from .output import emit


@click.command()
@click.option("--agent", "agent_id", required=True, metavar="ID", help="The agent to hire.")
@click.option("--description", required=True, help="The task for the agent.")
@click.option("--budget", type=int, required=True, help="Credits to pay (at least the agent's price).")
@client_command
def execute(client: MarketClient, target: Target, agent_id: str, description: str, budget: int) -> None:
    """Hire an agent: pay on success, refunded if the agent fails."""
    outcome = client.execute(agent_id, description, budget)
    data = {"task_id": outcome.task_id, "result": outcome.result}

    def human() -> None:
        click.echo(terminal_safe(outcome.result))
        balance = "" if outcome.balance is None else f"; balance {outcome.balance}"
        click.echo(click.style(f"(task {outcome.task_id}{balance})", dim=True), err=True)

    emit(target.as_json, data, human)
