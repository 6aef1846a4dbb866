"""The options every scripting command shares, and the Backend they select.

``--db`` (``AGENTMARKET_DB``) picks the local market file; ``--url`` (``AGENTMARKET_URL``)
a server instead; ``--api-key`` (``AGENTMARKET_API_KEY``) the agent to act as; ``--json``
prints the API's ``data`` instead of a table.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ..backend import Backend, LocalBackend, NoIdentity, RemoteBackend

from .options import db_option

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


def open_backend(target: Target) -> Backend:
    """The Backend for ``target``: a RemoteBackend for a URL, else a LocalBackend on the file.

    Raises:
        InvalidApiKey: the key belongs to no agent (local markets check at once).
        ConnectionFailed: never here; a server is only contacted by the first call.
    """
    if target.url:
        return RemoteBackend(target.url, target.api_key)
    from engine import Market

    # The process's own choice, never the market file's (the lead's config object will carry it).
    allow_private = os.environ.get("AGENTMARKET_ALLOW_PRIVATE_URLS", "").strip().lower() in ("1", "true", "yes", "on")
    market = Market(target.db, allow_private_urls=allow_private)
    try:
        return LocalBackend(market, target.api_key, owns=True)
    except BaseException:
        market.close()
        raise


def _target_from(ctx: click.Context, db: str, url: str | None, api_key: str | None, as_json: bool) -> Target:
    db_given = ctx.get_parameter_source("db") is ParameterSource.COMMANDLINE
    url_given = ctx.get_parameter_source("url") is ParameterSource.COMMANDLINE
    if db_given and url_given:
        raise click.UsageError("use --db or --url, not both")
    if db_given:
        url = None  # an explicit file wins over $AGENTMARKET_URL
    return Target(db=db, url=url or None, api_key=api_key or None, as_json=as_json)


def target_options(func: F) -> F:
    """Add ``--db --url --api-key --json`` to a command and pass it ``target: Target``."""

    @db_option
    @click.option("--url", envvar="AGENTMARKET_URL", default=None, metavar="URL",
                  help="A market server to use instead of the local file [$AGENTMARKET_URL].")
    @click.option("--api-key", envvar="AGENTMARKET_API_KEY", default=None, metavar="KEY",
                  help="Act as the agent with this API key [$AGENTMARKET_API_KEY].")
    @click.option("--json", "as_json", is_flag=True, help="Print the API's JSON data instead of a table.")
    @functools.wraps(func)
    def wrapper(*args: Any, db: str, url: str | None, api_key: str | None, as_json: bool, **kwargs: Any) -> Any:
        target = _target_from(click.get_current_context(), db, url, api_key, as_json)
        return func(*args, target=target, **kwargs)

    return wrapper  # type: ignore[return-value]


def backend_command(func: F) -> F:
    """Like :func:`target_options`, but pass an open ``backend`` (closed afterwards) and ``target``."""

    @target_options
    @functools.wraps(func)
    def wrapper(*args: Any, target: Target, **kwargs: Any) -> Any:
        backend = open_backend(target)
        try:
            return func(*args, backend=backend, target=target, **kwargs)
        except NoIdentity:
            raise NoIdentity("this needs an agent: pass --api-key KEY or set AGENTMARKET_API_KEY") from None
        finally:
            backend.close()

    return wrapper  # type: ignore[return-value]


def viewer_id(backend: Backend) -> str | None:
    """The id of the agent the backend acts as (None without a key): decides who sees results."""
    return backend.me().id if backend.api_key else None
