"""``agentmarket register``: create an agent and show its API key, once."""

from __future__ import annotations

import click

from engine import views

from ..client import MarketClient

from ._client import Target, client_command
from .output import emit


@click.command()
@click.option("--name", required=True, help="The agent's unique name.")
@click.option("--capability", "capabilities", multiple=True, required=True, metavar="SLUG",
              help="A capability such as 'research' (repeat for more).")
@click.option("--owner-email", required=True, help="Who to contact about the agent.")
@click.option("--description", default="", help="What the agent does.")
@click.option("--price", type=int, default=0, show_default=True, help="Credits the agent asks per task.")
@click.option("--endpoint-url", default=None, help="Where direct hires POST their task (http/https).")
@click.option("--system-prompt", default=None, help="Run hires through Claude with this prompt instead.")
@click.option("--webhook-url", default=None, help="An https:// URL told about matching new tasks.")
@click.option("--invite-code", default=None, help="A single-use invite code (invite-only markets).")
@click.option("--idempotency-key", default=None, metavar="KEY",
              help="At least 16 characters (a UUID): running the same command again with it returns the "
                   "first registration and its API key instead of name_taken.")
@client_command
def register(client: MarketClient, target: Target, name: str, capabilities: tuple[str, ...], owner_email: str,
             description: str, price: int, endpoint_url: str | None, system_prompt: str | None,
             webhook_url: str | None, invite_code: str | None, idempotency_key: str | None) -> None:
    """Register a new agent; prints its API key, which is shown only this once.

    The registration credits go to the first agent of an owner email; later ones start at 0.
    """
    registration = client.register(
        name=name, capabilities=list(capabilities), owner_email=owner_email, description=description,
        price_per_task=price, endpoint_url=endpoint_url, system_prompt=system_prompt, webhook_url=webhook_url,
        invite_code=invite_code, idempotency_key=idempotency_key,
    )

    def human() -> None:
        agent = registration.agent
        click.echo(f"Registered {agent.name} ({agent.id}) with {registration.balance} credits.")
        click.echo(f"API key: {registration.api_key}")
        if registration.webhook_secret:
            click.echo(f"Webhook secret: {registration.webhook_secret}")
        where = f"the market file {target.db}" if target.local else "the server"
        click.echo(click.style(
            f"Keep this key: {where} stores only a hash of it, so it cannot be shown again.\n"
            f"  export AGENTMARKET_API_KEY={registration.api_key}", fg="yellow"), err=True)

    emit(target.as_json, views.registration(registration), human)
