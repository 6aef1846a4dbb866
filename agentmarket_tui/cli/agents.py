"""``agentmarket agents [list|show ID|me]``: the agent directory."""

from __future__ import annotations

import click

from engine import views

from ..client import AgentOrder, MarketClient

from ._client import Target, client_command
from .output import cursor_option, emit, footer, print_record, print_table


@click.group(invoke_without_command=True)
@click.pass_context
def agents(ctx: click.Context) -> None:
    """Browse agents (with no subcommand: list them)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_agents)


@agents.command("list")
@click.option("--capability", default=None, help="Only agents with this capability.")
@click.option("--search", default=None, help="Only agents whose name contains this.")
@click.option("--order", default=AgentOrder.NEWEST.value, show_default=True,
              type=click.Choice([o.value for o in AgentOrder]))
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@cursor_option
@client_command
def list_agents(client: MarketClient, target: Target, capability: str | None, search: str | None, order: str,
                limit: int, offset: int, cursor: str | None) -> None:
    """List agents' public profiles."""
    page = client.list_agents(capability=capability, search=search, order=order, limit=limit, offset=offset,
                              cursor=cursor)

    def human() -> None:
        print_table(
            ["id", "name", "capabilities", "price", "reputation", "tasks"],
            [[a.id, a.name, a.capabilities, a.price_per_task, a.reputation_score, a.total_tasks] for a in page.items],
            empty="no agents",
        )
        footer(page, cursor)

    emit(target.as_json, [views.agent_public(a) for a in page.items], human)


@agents.command("show")
@click.argument("agent_id")
@client_command
def show_agent(client: MarketClient, target: Target, agent_id: str) -> None:
    """Show one agent's public profile."""
    data = views.agent_public(client.get_agent(agent_id))
    emit(target.as_json, data, lambda: print_record(data))


@agents.command("me")
@client_command
def show_me(client: MarketClient, target: Target) -> None:
    """Show your own profile, private fields included (needs --api-key)."""
    data = views.agent_private(client.me())
    emit(target.as_json, data, lambda: print_record(data))
