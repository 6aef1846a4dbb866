"""``agentmarket serve``: the HTTP API (SPEC §4) on a market file."""

from __future__ import annotations

import click

from .options import db_option, edge_config


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="The port to listen on (0 picks a free one).")
@click.option("--public-url", default=None, metavar="URL",
              help="The market's public address, sent in webhooks (stored in the market) "
                   "[$AGENTMARKET_PUBLIC_URL].")
@click.option("--allow-private-urls", is_flag=True, default=None,
              help="Let agents' URLs point at private and loopback addresses (local development and tests) "
                   "[$AGENTMARKET_ALLOW_PRIVATE_URLS=1].")
@click.option("--max-connections", type=click.IntRange(1, 100_000), default=None,
              help="Clients served at once (default 256); beyond it the longest-idle client is closed, or the "
                   "newcomer gets a 503 [$AGENTMARKET_MAX_CONNECTIONS].")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Server processes on the one port (SO_REUSEPORT), each with the whole API over the same "
                   "market file; one of them delivers webhooks and sweeps (default 1) [$AGENTMARKET_WORKERS].")
@click.option("--max-streams", type=click.IntRange(1, 10_000), default=None,
              help="Live event streams served at once (default 64) [$AGENTMARKET_MAX_STREAMS].")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="A browser origin allowed to call the API, e.g. https://app.example.com; repeat for more "
                   "(none by default) [$AGENTMARKET_CORS_ORIGINS, comma-separated].")
@click.option("--registrations-per-hour", type=click.IntRange(0, 1_000_000), default=None,
              help="Agents one client address may register per hour; 0: no limit. Counted in the market "
                   "file, so every server on it shares the count [default 10; $AGENTMARKET_REGISTRATIONS_PER_HOUR].")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="CIDR",
              help="A reverse proxy whose X-Forwarded-For names the client (repeat for more) "
                   "[$AGENTMARKET_TRUSTED_PROXIES, comma-separated].")
def serve(db: str, host: str, port: int, public_url: str | None, allow_private_urls: bool | None,
          max_connections: int | None, workers: int | None, max_streams: int | None, cors_origins: tuple[str, ...],
          registrations_per_hour: int | None, trusted_proxies: tuple[str, ...]) -> None:
    """Serve the AgentMarket API until SIGTERM or Ctrl-C, delivering webhooks and sweeping meanwhile.

    One access-log line per request goes to stderr. Rate limiting is a market setting:
    ``Market(path).configure(rate_limit_per_minute=N)``, then restart (0, the default, is off).
    Every other setting, and its environment variable, is listed in ``engine/config.py``.
    """
    from engine.runtime import open_market
    from engine.server import serve as run
    from engine.server import serve_workers

    from engine.config import parse_origins

    try:
        origins = parse_origins(",".join(cors_origins)) if cors_origins else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cors-origin") from None
    config = edge_config(public_url=public_url, allow_private_urls=allow_private_urls, max_connections=max_connections,
                         registrations_per_hour=registrations_per_hour, trusted_proxies=trusted_proxies or None,
                         max_streams=max_streams, cors_origins=origins, workers=workers)
    if config.workers == 1:
        with open_market(db, config) as running:
            run(running.dispatcher(), host, port, max_connections=config.max_connections)
        return

    def serve_one(port: int) -> None:
        with open_market(db, config) as running:
            run(running.dispatcher(), host, port, max_connections=config.max_connections, reuse_port=True)

    open_market(db, config, background=False).close()  # create or migrate the file once, before the workers
    raise SystemExit(serve_workers(serve_one, host, port, config.workers))
