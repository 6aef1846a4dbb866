"""``agentmarket tui``: the terminal app on the local market or a server."""

from __future__ import annotations

import click

from ._client import Target, open_client
from .options import db_option


@click.command()
@db_option
@click.option("--url", envvar="AGENTMARKET_URL", default=None, metavar="URL",
              help="Open a market server instead of the local file [$AGENTMARKET_URL].")
@click.option("--api-key", envvar="AGENTMARKET_API_KEY", default=None, metavar="KEY",
              help="Act as the agent with this API key [$AGENTMARKET_API_KEY].")
def tui(db: str, url: str | None, api_key: str | None) -> None:
    """Open the terminal app (the default command)."""
    from ..app import launch
    from ..config import resume_last_agent

    from .disputes import settle_as_operator

    client = open_client(Target(db=db, url=url or None, api_key=api_key or None, as_json=False), background=True)
    try:
        resume_last_agent(client)
        launch(client, operator=None if url else settle_as_operator(db))
    finally:
        client.close()
