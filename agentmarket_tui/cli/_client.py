"""The options every scripting command shares, and the client they select.

``--db`` (``AGENTMARKET_DB``) picks the local market file; ``--url`` (``AGENTMARKET_URL``)
a server instead; ``--api-key`` (``AGENTMARKET_API_KEY``) the agent to act as; ``--json``
prints the API's ``data`` instead of a table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ..client import MarketClient, NoIdentity, local_client

from .options import db_option, edge_config

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Target:
    """Where a command acts: a market file or a server, as which agent, printing how."""

    db: str
    url: str | None
    api_key: str | None
    as_json: bool

    @property
    def local(self) -> bool:
        return self.url is None


def open_client(target: Target, *, background: bool = False) -> MarketClient:
    """The client for ``target``: over a socket for a URL, else in-process on the file.

    Args:
        background: for a local file, run its webhook deliveries and sweeps while the client
            is open (long-lived commands: the terminal app, the worker).

    Raises:
        ConnectionFailed: never here; a market is only asked by the first call.
        ValidationError: a configuration variable that does not parse.
    """
    if target.url:
        return MarketClient(target.url, target.api_key)
    return local_client(target.db, target.api_key, config=edge_config(), background=background)


def _target_from(ctx: click.Context, db: str, url: str | None, api_key: str | None, as_json: bool) -> Target:
    db_given = ctx.get_parameter_source("db") is ParameterSource.COMMANDLINE
    url_given = ctx.get_parameter_source("url") is ParameterSource.COMMANDLINE
    if db_given and url_given:
        raise click.UsageError("use --db or --url, not both")
    if db_given:
        url = None  # an explicit file wins over $AGENTMARKET_URL
    return Target(db=db, url=url or None, api_key=api_key or None, as_json=as_json)


def target_options(func: F | None = None, *, json_flag: bool = True) -> Any:
    """Add ``--db --url --api-key`` (and ``--json`` unless ``json_flag`` is false) to a command and
    pass it ``target: Target``. Use bare (``@target_options``) or called (``@target_options(json_flag=False)``)."""

    def decorate(func: F) -> F:
        @db_option
        @click.option("--url", envvar="AGENTMARKET_URL", default=None, metavar="URL",
                      help="A market server to use instead of the local file [$AGENTMARKET_URL].")
        @click.option("--api-key", envvar="AGENTMARKET_API_KEY", default=None, metavar="KEY",
                      help="Act as the agent with this API key [$AGENTMARKET_API_KEY].")
        @functools.wraps(func)
        def wrapper(*args: Any, db: str, url: str | None, api_key: str | None, as_json: bool = False,
                    **kwargs: Any) -> Any:
            target = _target_from(click.get_current_context(), db, url, api_key, as_json)
            return func(*args, target=target, **kwargs)

        if json_flag:
            wrapper = click.option("--json", "as_json", is_flag=True,
                                   help="Print the API's JSON data instead of a table.")(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def client_command(func: F | None = None, *, background: bool = False) -> Any:
    """Like :func:`target_options`, but pass an open ``client`` (closed afterwards) and ``target``.

    Use bare (``@client_command``) for one-shot commands, or ``@client_command(background=True)``
    for a long-lived one that should also deliver webhooks and sweep a local market.
    """

    def decorate(func: F) -> F:
        @target_options
        @functools.wraps(func)
        def wrapper(*args: Any, target: Target, **kwargs: Any) -> Any:
            client = open_client(target, background=background)
            try:
                return func(*args, client=client, target=target, **kwargs)
            except NoIdentity:
                raise NoIdentity("this needs an agent: pass --api-key KEY or set AGENTMARKET_API_KEY") from None
            finally:
                client.close()

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def viewer_id(client: MarketClient) -> str | None:
    """The id of the agent the client acts as (None without a key): decides who sees results."""
    return client.me().id if client.api_key else None
