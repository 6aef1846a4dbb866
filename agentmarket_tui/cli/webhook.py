"""``agentmarket webhook get|set URL|clear|deliveries``: where your agent hears of new tasks."""

from __future__ import annotations

import click

from engine import views

from ..client import MarketClient

from ._client import Target, client_command
from .output import emit, print_record, print_table


@click.group()
def webhook() -> None:
    """Your agent's webhook (needs --api-key)."""


@webhook.command("get")
@client_command
def get_webhook(client: MarketClient, target: Target) -> None:
    """Show the webhook URL (masked, as the API shows it)."""
    data = views.webhook(client.webhook())
    emit(target.as_json, data, lambda: print_record(data))


@webhook.command("set")
@click.argument("webhook_url", metavar="URL")
@client_command
def set_webhook(client: MarketClient, target: Target, webhook_url: str) -> None:
    """Set the webhook URL (https only); prints the signing secret."""
    _show_set(target, views.webhook(client.set_webhook(webhook_url)))


@webhook.command("clear")
@client_command
def clear_webhook(client: MarketClient, target: Target) -> None:
    """Stop webhook deliveries."""
    _show_set(target, views.webhook(client.set_webhook(None)))


def _show_set(target: Target, data: dict[str, object]) -> None:
    def human() -> None:
        print_record(data)
        if data.get("webhook_secret"):
            click.echo(click.style("Verify deliveries with this secret; keep it private.", fg="yellow"), err=True)

    emit(target.as_json, data, human)


@webhook.command("deliveries")
@click.option("--limit", type=int, default=20, show_default=True)
@client_command
def deliveries(client: MarketClient, target: Target, limit: int) -> None:
    """Recent webhook deliveries to your agent and how they went, newest first."""
    items = client.webhook_deliveries(limit)

    def human() -> None:
        print_table(
            ["when", "event", "task", "status", "attempts", "last"],
            [[d.created_at, d.event, d.task_id, d.status, d.attempts, d.last_status_code or d.last_error]
             for d in items],
            empty="no deliveries",
        )

    emit(target.as_json, [views.delivery(d) for d in items], human)
