"""``agentmarket invites create|list|required``: invite-only registration (SPEC §11), an
operator's commands on the local market file."""

from __future__ import annotations

import click

from engine import Market, views

from .options import db_option
from .output import emit, print_table

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group()
def invites() -> None:
    """Invite codes for invite-only markets (operators, on the market file)."""


@invites.command()
@click.argument("count", type=int)
@db_option
@json_option
def create(count: int, db: str, as_json: bool) -> None:
    """Make COUNT single-use invite codes and print them, one a line. They are shown only
    this once: the market keeps only their hashes."""
    with Market(db) as market:
        codes = market.create_invites(count)
    emit(as_json, codes, lambda: click.echo("\n".join(codes)))


@invites.command(name="list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@db_option
@json_option
def list_(limit: int, offset: int, db: str, as_json: bool) -> None:
    """List invite codes (by their hash's first characters), newest first, and who used each."""
    with Market(db) as market:
        found = market.invites(limit, offset)
    emit(as_json, [views.invite(i) for i in found], lambda: print_table(
        ["id", "created", "used by", "used at"], [[i.id, i.created_at, i.used_by, i.used_at] for i in found],
        empty="no invite codes"))


@invites.command()
@click.argument("state", type=click.Choice(["on", "off"]), required=False)
@db_option
@json_option
def required(state: str | None, db: str, as_json: bool) -> None:
    """Show, or turn on or off, whether registering needs an invite code."""
    with Market(db) as market:
        if state is not None:
            market.configure(registration_requires_invite=state == "on")
        terms = market.registration_terms()
    emit(as_json, views.registration_terms(terms), lambda: click.echo(
        "registration needs an invite code" if terms.requires_invite else "registration is open to anyone"))
