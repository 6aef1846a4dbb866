"""``agentmarket webhook get|set URL|clear|events|rotate-secret|test|deliveries|redeliver``:
where and of what your agent hears."""

from __future__ import annotations

import click

from engine import views
from engine.event_catalog import EVENT_TYPES, WEBHOOK_EVENTS

from ..client import MarketClient

from ._client import Target, client_command
from .output import cursor_option, emit, footer, print_record, print_table


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


@webhook.command("events")
@click.argument("events", nargs=-1, type=click.Choice(WEBHOOK_EVENTS))
@click.option("--all-tasks/--matching-tasks", default=None,
              help="Hear of every task, or only of tasks needing capabilities you have (the default).")
@client_command
def choose_events(client: MarketClient, target: Target, events: tuple[str, ...], all_tasks: bool | None) -> None:
    """Choose the events your webhook is sent (none given: list the catalog and your choice)."""
    if not events and all_tasks is None:
        chosen = client.webhook()
        rows = [[name, "yes" if name in chosen.events else "", EVENT_TYPES[name].summary] for name in WEBHOOK_EVENTS]
        emit(target.as_json, views.webhook(chosen), lambda: print_table(["event", "chosen", "meaning"], rows))
        return
    data = views.webhook(client.change_webhook(events=events or None, all_tasks=all_tasks))
    emit(target.as_json, data, lambda: print_record(data))


@webhook.command("rotate-secret")
@client_command
def rotate_secret(client: MarketClient, target: Target) -> None:
    """A new signing secret; the old one keeps signing beside it for 24 hours."""
    _show_set(target, views.webhook(client.rotate_webhook_secret()))


@webhook.command("test")
@client_command
def test_webhook(client: MarketClient, target: Target) -> None:
    """Send a ping event to your webhook now (see it with `webhook deliveries`)."""
    data = views.delivery(client.test_webhook())
    emit(target.as_json, data, lambda: print_record(data))


@webhook.command("redeliver")
@click.argument("delivery_id", metavar="DELIVERY_ID")
@client_command
def redeliver(client: MarketClient, target: Target, delivery_id: str) -> None:
    """Send a delivered or failed delivery again, now."""
    data = views.delivery(client.redeliver(delivery_id))
    emit(target.as_json, data, lambda: print_record(data))


def _show_set(target: Target, data: dict[str, object]) -> None:
    def human() -> None:
        print_record(data)
        if data.get("webhook_secret"):
            click.echo(click.style("Verify deliveries with this secret; keep it private.", fg="yellow"), err=True)

    emit(target.as_json, data, human)


@webhook.command("deliveries")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@cursor_option
@client_command
def deliveries(client: MarketClient, target: Target, limit: int, offset: int, cursor: str | None) -> None:
    """Recent webhook deliveries to your agent and how they went, newest first."""
    page = client.webhook_deliveries(limit, offset, cursor)
    items = page.items

    def human() -> None:
        print_table(
            ["when", "event", "task", "status", "attempts", "last"],
            [[d.created_at, d.event, d.task_id, d.status, d.attempts, d.last_status_code or d.last_error]
             for d in items],
            empty="no deliveries",
        )
        footer(page, cursor)

    emit(target.as_json, [views.delivery(d) for d in items], human)
