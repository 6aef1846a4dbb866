"""The shapes of the route table: a request as a handler sees it (:class:`Call`), its
answer (:class:`Reply`) and an endpoint (:class:`Route`). Shared by the table (``_routes``),
the dispatcher and the OpenAPI document, so none of them imports another for its types."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from engine import Market
from engine import validation as v
from engine.errors import AuthRequired, MarketError
from engine.records import Agent
from engine.services import HireRunner, Origin

if TYPE_CHECKING:
    from ._live import LiveEvents

#: The header that carries an agent's API key.
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a handler sees it."""

    market: Market
    caller: Agent | None
    path: Mapping[str, str]
    query: Mapping[str, str]
    body: dict[str, Any]
    hire_runner: HireRunner | None = None
    #: The client as the server saw it (registrations are limited per address); None in-process.
    origin: Origin | None = None
    #: The request headers (case-insensitive lookup).
    headers: Mapping[str, str] = field(default_factory=dict)
    live: LiveEvents | None = None
    #: The body's bytes, for routes with ``raw_body`` (their ``body`` is ``{}``).
    raw: bytes = b""

    @property
    def me(self) -> Agent:
        """The authenticated caller (routes with ``auth="required"`` always have one).

        Raises:
            AuthRequired: there is none.
        """
        if self.caller is None:
            raise AuthRequired("this endpoint needs your API key")
        return self.caller


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler answers: the envelope's ``data`` and how to send it."""

    data: Any
    status: int = 200
    pagination: dict[str, int] | None = None
    #: The balance to show when the caller is not the one authenticated (a new registration).
    balance: int | None = None


@dataclass(frozen=True, slots=True)
class QueryParam:
    """A query parameter, for the OpenAPI document."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint.

    Attributes:
        method, path: e.g. ``POST`` and ``/api/tasks/{id}/accept``.
        handler: the engine call.
        summary: one line for the OpenAPI document.
        auth: ``none`` (a key is still checked when sent), or ``required``.
        body: the request body's schema; the handler gets ``body.validate(...)``'s result.
        partial: validate the body with no field required (updates).
        query: the query parameters it reads.
        idempotent: honours ``Idempotency-Key`` (POSTs that move credits or change state).
        response: the name of the response data's schema in the OpenAPI document.
        many: the data is a list of ``response``; ``paged`` adds ``pagination``.
        errors: the refusals particular to this route (common ones are added for all).
        enveloped: false for answers that are not the market's envelope (OpenAPI, the live stream, A2A).
        streamed: the reply's data is an iterator of byte chunks sent as
            ``text/event-stream`` until it ends (never cached, never enveloped).
        origin: the handler gets the client's address (``Call.origin``), for per-address limits.
        raw_body: hand the handler the body's bytes (``Call.raw``) unparsed: it speaks its own protocol.
        cacheable: an anonymous GET may be answered from the response cache (false when the
            answer depends on more than the path and the market, e.g. the Host header).
        grouped: run in the market's group commit (``Market.grouped``): a write that touches
            only the market file (never the network), answered once its group is committed.
        fault: renders a refusal met outside the handler (a bad key, a rate limit, an oversize
            body) in the route's own protocol; None: the market's error envelope.
    """

    method: str
    path: str
    handler: Callable[[Call], Reply]
    summary: str
    auth: Literal["none", "required"] = "none"
    body: v.Schema | None = None
    partial: bool = False
    query: tuple[QueryParam, ...] = ()
    idempotent: bool = False
    response: str = ""
    many: bool = False
    paged: bool = False
    status: int = 200
    errors: tuple[type[MarketError], ...] = ()
    enveloped: bool = True
    streamed: bool = False
    origin: bool = False
    raw_body: bool = False
    cacheable: bool = True
    grouped: bool = False
    fault: Callable[[MarketError], Reply] | None = None
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.path.strip("/").split("/")))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters if ``segments`` fit this route's path, else None."""
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for pattern, segment in zip(self.segments, segments, strict=True):
            if pattern.startswith("{"):
                params[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return params
