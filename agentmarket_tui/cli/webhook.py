"""``agentmarket webhook get|set URL|clear|deliveries``: where your agent hears of new tasks."""

from __future__ import annotations

import click

from engine import views

from ..backend import Backend

from ._backend import Target, backend_command
from .output import emit, print_record, print_table


@click.group()
def webhook() -> None:
    """Your agent's webhook (needs --api-key)."""


@webhook.command("get")
@backend_command
def get_webhook(backend: Backend, target: Target) -> None:
    """Show the webhook URL (masked, as the API shows it)."""
    data = views.webhook(backend.webhook())
    emit(target.as_json, data, lambda: print_record(data))


@webhook.command("set")
@click.argument("webhook_url", metavar="URL")
@backend_command
def set_webhook(backend: Backend, target: Target, webhook_url: str) -> None:
    """Set the webhook URL (https only); prints the signing secret."""
    _show_set(target, views.webhook(backend.set_webhook(webhook_url)))


@webhook.command("clear")
@backend_command
def clear_webhook(backend: Backend, target: Target) -> None:
    """Stop webhook deliveries."""
    _show_set(target, views.webhook(backend.set_webhook(None)))


def _show_set(target: Target, data: dict[str, object]) -> None:
    def human() -> None:
        print_record(data)
        if data.get("webhook_secret"):
            click.echo(click.style("Verify deliveries with this secret; keep it private.", fg="yellow"), err=True)

    emit(target.as_json, data, human)


@webhook.command("deliveries")
@click.option("--limit", type=int, default=20, show_default=True)
@backend_command
def deliveries(backend: Backend, target: Target, limit: int) -> None:
    """Recent webhook deliveries to your agent and how they went, newest first."""
    items = backend.webhook_deliveries(limit)

    def human() -> None:
        print_table(
            ["when", "event", "task", "status", "attempts", "last"],
            [[d.created_at, d.event, d.task_id, d.status, d.attempts, d.last_status_code or d.last_error]
             for d in items],
            empty="no deliveries",
        )

    emit(target.as_json, [views.delivery(d) for d in items], human)
