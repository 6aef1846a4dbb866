"""One configuration object for a running market, and the one place its sources meet.

The engine reads no environment variables. The command line (the edge) calls
:func:`load_config` with its options and ``os.environ``; :func:`engine.runtime.open_market`
then fills what neither gave from the market's stored settings. Precedence, highest first:

1. a command-line option;
2. an environment variable;
3. the market's stored setting (only ``public_url`` is stored);
4. the default below.

``SOURCES`` is the table of every setting, its option and its variable; ``docs/API.md``
and ``agentmarket --help`` are written from it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ValidationError

DEFAULT_MODEL = "claude-sonnet-5-5"


@dataclass(frozen=True, slots=True)
class Config:
    """How this process runs a market. Every field has a safe default.

    Attributes:
        public_url: the market's public address, sent in webhook payloads; None: the
            stored ``public_url`` setting, else the address a server bound.
        allow_private_urls: let agents' URLs point at private and loopback addresses
            (local development and tests only). Belongs to the process, never stored.
        response_cache: answer anonymous GETs from a cache while the market is unchanged.
        webhook_backoff: base delay in seconds between webhook retries.
        execution_timeout: seconds one call of a hired agent may take in all.
        model: the Claude model that prompt agents run on.
        anthropic_api_key: the key for Claude calls; prompt agents cannot run without it.
        anthropic_base_url: a gateway or local stand-in for the Messages API.
        sweep_seconds: seconds between two housekeeping sweeps of a running market.
        max_connections: clients a server serves at once (capped by the open-file limit).
        max_streams: live event streams (``GET /api/events/stream``) served at once.
        stream_heartbeat_seconds: seconds of silence after which a stream sends a heartbeat.
        cors_origins: browser origins allowed to call the API (CORS); empty: none.
        registrations_per_hour: agents one client address may register per hour through a
            server (0: no limit); counted in the market file, shared by every server on it.
        trusted_proxies: CIDR networks of reverse proxies whose ``X-Forwarded-For`` names the
            client (the right-most address not in one of them).
    """

    public_url: str | None = None
    allow_private_urls: bool = False
    response_cache: bool = True
    webhook_backoff: float = 5.0
    execution_timeout: float = 60.0
    model: str = DEFAULT_MODEL
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    sweep_seconds: float = 2.0
    max_connections: int = 256
    workers: int = 1
    max_streams: int = 64
    stream_heartbeat_seconds: float = 15.0
    cors_origins: tuple[str, ...] = ()
    registrations_per_hour: int = 10
    trusted_proxies: tuple[str, ...] = ()

    def with_stored(self, stored: Mapping[str, Any]) -> Config:
        """This config with what it leaves open taken from the market's stored settings."""
        if self.public_url is None and stored.get("public_url"):
            return replace(self, public_url=str(stored["public_url"]))
        return self


@dataclass(frozen=True, slots=True)
class Source:
    """Where one setting may come from.

    Attributes:
        name: the :class:`Config` field.
        env: the environment variable, if any.
        parse: turns the variable's text into the field's value (raises ValueError).
        help: one line for documentation.
    """

    name: str
    env: str | None
    parse: Callable[[str], Any]
    help: str


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not low < value <= high:
            raise ValueError(f"expected seconds above {low:g} and at most {high:g}")
        return value

    return parse


def _count(high: int, low: int = 0) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def _cidrs(text: str) -> tuple[str, ...]:
    cidrs = tuple(part.strip() for part in text.split(",") if part.strip())
    for cidr in cidrs:
        ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
    return cidrs


def _text(text: str) -> str | None:
    return text.strip() or None


def parse_origins(text: str) -> tuple[str, ...]:
    """A comma-separated allowlist of origins, each ``http(s)://host[:port]`` with no path.

    Raises:
        ValueError: an entry that is not such an origin.
    """
    origins = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        scheme, sep, rest = entry.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or any(c in rest for c in "/?#@ "):
            raise ValueError(f"{entry[:80]!r} is not an origin like https://app.example.com")
        origins.append(entry)
    return tuple(origins)


SOURCES: tuple[Source, ...] = (
    Source("public_url", "AGENTMARKET_PUBLIC_URL", _text, "The market's public address, sent in webhooks."),
    Source("allow_private_urls", "AGENTMARKET_ALLOW_PRIVATE_URLS", _flag,
           "Allow private and loopback agent URLs (development and tests only)."),
    Source("response_cache", "AGENTMARKET_RESPONSE_CACHE", _flag, "Cache answers to anonymous GETs."),
    Source("webhook_backoff", "AGENTMARKET_WEBHOOK_BACKOFF", _seconds(0, 3600), "Base webhook retry delay."),
    Source("execution_timeout", "AGENTMARKET_EXECUTION_TIMEOUT", _seconds(0, 3600),
           "Seconds a hired agent's call may take."),
    Source("model", "AGENTMARKET_MODEL", str, "The Claude model prompt agents run on."),
    Source("anthropic_api_key", "ANTHROPIC_API_KEY", _text, "The Anthropic API key for prompt agents."),
    Source("anthropic_base_url", "ANTHROPIC_BASE_URL", _text, "A gateway or stand-in for the Messages API."),
    Source("sweep_seconds", "AGENTMARKET_SWEEP_SECONDS", _seconds(0, 3600), "Seconds between housekeeping sweeps."),
    Source("max_connections", "AGENTMARKET_MAX_CONNECTIONS", _count(100_000, low=1), "Clients a server serves at once."),
    Source("workers", "AGENTMARKET_WORKERS", _count(64, low=1),
           "Server processes on one port (SO_REUSEPORT) over one market file."),
    Source("max_streams", "AGENTMARKET_MAX_STREAMS", _count(10_000, low=1), "Live event streams served at once."),
    Source("stream_heartbeat_seconds", "AGENTMARKET_STREAM_HEARTBEAT", _seconds(0, 3600),
           "Seconds between heartbeats of a quiet live event stream."),
    Source("cors_origins", "AGENTMARKET_CORS_ORIGINS", parse_origins,
           "Comma-separated browser origins allowed to call the API (CORS); none by default."),
    Source("registrations_per_hour", "AGENTMARKET_REGISTRATIONS_PER_HOUR", _count(1_000_000),
           "Registrations one client address may make per hour (0: no limit)."),
    Source("trusted_proxies", "AGENTMARKET_TRUSTED_PROXIES", _cidrs,
           "Comma-separated CIDRs of proxies whose X-Forwarded-For names the client."),
)
_BY_NAME = {source.name: source for source in SOURCES}
assert set(_BY_NAME) == {f.name for f in fields(Config)}, "every Config field has one Source"


def load_config(options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The config from command-line ``options`` (None values mean "not given") over ``environ``.

    Args:
        options: values by :class:`Config` field name, already typed (click did that).
        environ: the process environment (the caller passes ``os.environ``).

    Returns:
        The config; stored settings are applied later by :meth:`Config.with_stored`.

    Raises:
        ValidationError: an unknown option, or an environment variable that does not parse
            (naming the variable).
    """
    values: dict[str, Any] = {}
    for name, source in _BY_NAME.items():
        text = (environ or {}).get(source.env) if source.env else None
        if text is None:
            continue
        try:
            values[name] = source.parse(text)
        except ValueError as exc:
            raise ValidationError(name, f"{source.env}={text[:50]!r} is not valid: {exc}") from None
    for name, value in (options or {}).items():
        if name not in _BY_NAME:
            raise ValidationError(name, f"unknown setting {name!r}")
        if value is not None:
            values[name] = value
    return Config(**values)
