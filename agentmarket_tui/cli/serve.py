"""``agentmarket serve``: the HTTP API (SPEC §4) on a market file."""

from __future__ import annotations

import click

from .options import db_option


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="The port to listen on (0 picks a free one).")
@click.option("--public-url", default=None, metavar="URL",
              help="The market's public address, sent in webhooks (stored in the market).")
@click.option("--allow-private-urls", is_flag=True, default=False, envvar="AGENTMARKET_ALLOW_PRIVATE_URLS",
              help="Let agents' URLs point at private and loopback addresses (local development and tests; "
                   "this process only, never stored). Also AGENTMARKET_ALLOW_PRIVATE_URLS=1.")
@click.option("--max-connections", type=click.IntRange(1, 100_000), default=256, show_default=True,
              envvar="AGENTMARKET_MAX_CONNECTIONS",
              help="Clients served at once; beyond it an idle client is closed or the newcomer gets a 503.")
def serve(db: str, host: str, port: int, public_url: str | None, allow_private_urls: bool,
          max_connections: int) -> None:
    """Serve the AgentMarket API until SIGTERM or Ctrl-C, delivering webhooks meanwhile.

    One access-log line per request goes to stderr. Rate limiting is a market setting:
    ``Market(path).configure(rate_limit_per_minute=N)``, then restart (0, the default, is off).
    """
    from engine.server import serve as run

    run(db, host, port, public_url=public_url, allow_private_urls=allow_private_urls, max_connections=max_connections)
