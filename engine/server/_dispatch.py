"""From an HTTP request's parts to a JSON response: routing, auth, limits, idempotency.

The dispatcher knows nothing of sockets (that is ``_handler``) and no market rules
(those are the engine's): it finds the route, authenticates the caller, cleans the
body with the route's schema, calls the handler and renders the envelope of SPEC §4.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

import orjson

from engine import Market
from engine.errors import (
    AuthRequired,
    BadRequest,
    InvalidJSON,
    MarketError,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    ServiceUnavailable,
)
from engine.records import Agent
from engine.services import HireRunner, Origin

from . import _idempotency as idem
from ._cache import ResponseCache
from ._client_address import ClientAddress, Network
from ._cors import Cors
from ._live import LiveEvents
from ._ratelimit import RateLimiter
from ._route_types import API_KEY_HEADER, Call, Reply, Route
from ._routes import find_route

log = logging.getLogger("agentmarket.server")

MAX_QUERY_FIELDS = 50


JSON_TYPE = "application/json; charset=utf-8"
EVENT_STREAM_TYPE = "text/event-stream; charset=utf-8"


class Stream(Protocol):
    """A body sent piece by piece until it ends; whoever sends it must ``close`` it."""

    def __iter__(self) -> Iterator[bytes]: ...

    def __next__(self) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Response:
    """A finished answer: status, JSON bytes and extra headers; or, with ``stream``, a body
    of unknown length sent chunk by chunk (``body`` is then empty)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = field(default=())
    stream: Stream | None = None
    content_type: str = JSON_TYPE


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON: what ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``
    writes, by orjson (several times faster on a page of records); a value orjson refuses (an
    integer past 64 bits, nesting past 255 levels) is left to ``json``."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _COMPACT.encode(value).encode()


def error_response(exc: MarketError, balance: int | None = None) -> Response:
    """The error envelope for ``exc``, with the headers its status calls for."""
    envelope: dict[str, Any] = {"success": False, "error": exc.to_dict()}
    if balance is not None:
        envelope["balance"] = balance
    headers: list[tuple[str, str]] = []
    if "retry_after" in exc.details:
        headers.append(("Retry-After", str(exc.details["retry_after"])))
    if "allowed" in exc.details:
        headers.append(("Allow", ", ".join(exc.details["allowed"])))
    return Response(exc.status, encode(envelope), tuple(headers))


class Dispatcher:
    """Answers requests against one market.

    Args:
        market: the market (shared by all threads; each gets its own connection).
        cache_responses: reuse answers to anonymous GETs while the market is unchanged.
        hire_runner: runs ``POST /api/execute`` (``engine.outbound.execute``); without one
            that route answers 503.
        registrations_per_hour: registrations one client address may make per hour (0: no
            limit); counted in the market file, so every server on it shares the count.
        trusted_proxies: the networks whose ``X-Forwarded-For`` names the client.
        max_streams, heartbeat_seconds: bounds of the live event streams (``_live``).
        cors_origins: browser origins allowed to call the API (``_cors``); none by default.
    """

    def __init__(self, market: Market, *, cache_responses: bool = True, hire_runner: HireRunner | None = None,
                 registrations_per_hour: int = 0, trusted_proxies: tuple[Network, ...] = (),
                 max_streams: int = 64, heartbeat_seconds: float = 15.0, cors_origins: Collection[str] = ()) -> None:
        self.market = market
        self.hire_runner = hire_runner
        self.registrations_per_hour = registrations_per_hour
        self.client_address = ClientAddress(trusted_proxies)
        self.limiter = RateLimiter(market.settings.rate_limit_per_minute, buckets=market.rate_buckets())
        self.keys = market.idempotency
        self.cache = ResponseCache(market.data_version) if cache_responses else None
        self.live = LiveEvents(market, max_streams=max_streams, heartbeat_seconds=heartbeat_seconds)
        self.cors = Cors(cors_origins) if cors_origins else None

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
               peer: str | None = None) -> Response:
        """Answer one request. Never raises: every failure is an error envelope.

        Args:
            method: the HTTP method (HEAD is answered as GET; the caller drops the body).
            target: the request target, path and query.
            headers: the request headers (case-insensitive lookup).
            body: the request body, already read whole.
            peer: the address the connection came from (None in-process: not limited).

        Returns:
            The answer; one with a ``stream`` must be closed by the caller once sent.
        """
        origin = self.cors.allowed(headers) if self.cors is not None else None
        if origin is None:
            return self._answer(method, target, headers, body, peer)
        assert self.cors is not None
        if self.cors.is_preflight(method, headers):
            _, _, allowed = find_route("OPTIONS", target.partition("?")[0])
            if allowed:
                return Response(204, b"", self.cors.preflight_headers(origin, allowed))
        response = self._answer(method, target, headers, body, peer)
        return replace(response, headers=(*response.headers, *self.cors.answer_headers(origin)))

    def _answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
                peer: str | None) -> Response:
        path, _, query = target.partition("?")
        found = find_route("GET" if method == "HEAD" else method, path)
        route = found[0]
        if route is None or route.method != "GET" or route.streamed or self._from_cache(route, headers, body):
            return self._answer_route(method, found, path, query, target, headers, body, peer)
        try:
            # A read's lookups (the caller, the answer, the balance) all see one moment of the market.
            with self.market.snapshot():
                return self._answer_route(method, found, path, query, target, headers, body, peer)
        except Exception:  # the snapshot itself failed (e.g. no connection came free)
            log.exception("could not open a snapshot for %s %s", method, path[:200])
            return self._refusal(route, ServiceUnavailable("the server could not finish this request; retry later"))

    def _from_cache(self, route: Route, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the response cache may answer this request before anything else (an
        anonymous, cacheable GET)."""
        return route.auth == "none" and API_KEY_HEADER not in headers and self._cacheable(route, body)

    def _cacheable(self, route: Route, body: bytes) -> bool:
        return (self.cache is not None and route.cacheable and route.method == "GET" and not body
                and not route.streamed)

    def _answer_route(self, method: str, found: tuple[Route | None, dict[str, str], list[str]], path: str,
                      query: str, target: str, headers: Mapping[str, str], body: bytes,
                      peer: str | None) -> Response:
        caller: Agent | None = None
        route, params, allowed = found
        try:
            if route is None:
                caller = self._known_caller(headers)  # so a key holder still sees a balance
                if allowed:  # decided before authentication: a wrong method is wrong for everyone
                    allowed = [*allowed, "HEAD"] if "GET" in allowed else allowed
                    raise MethodNotAllowed(f"{method} is not allowed here; use {', '.join(allowed)}",
                                           allowed=allowed)
                raise NotFound(f"no route {path[:200]!r}")
            if self._from_cache(route, headers, body):
                return self._cached(route, params, query, target)
            caller = self._caller(headers, required=route.auth == "required")
            if caller is not None and self._cacheable(route, body):
                # The same caller's same GET, while nothing changed: the same answer, balance included.
                return self._cached(route, params, query, f"{caller.id} {target}", caller)
            call = self._call(caller, params, query, {} if route.raw_body else _body(route, body),
                              self._origin(route, peer, headers), headers, body if route.raw_body else b"")
            key = headers.get(idem.HEADER) if route.idempotent else None
            if key is not None and (caller is not None or route.auth == "none"):
                checked, canonical = idem.check_key(key), call.raw if route.raw_body else encode_canonical(call.body)
                if route.grouped:  # the claim, the operation and the stored answer commit together
                    return self.market.grouped(lambda: self._once(route, call, checked, method, path, canonical))
                return self._once(route, call, checked, method, path, canonical)
            if route.grouped:  # the writer thread runs the operation; the answer is rendered here
                return self._render(route, self.market.grouped(lambda: route.handler(call)), call)
            return self._run(route, call)
        except _WithBalance as refused:
            return error_response(refused.error, refused.balance)
        except MarketError as exc:
            return self._refusal(route, exc, caller)
        except Exception:
            log.exception("unexpected error answering %s %s", method, path[:200])
            return self._refusal(route, ServiceUnavailable("the server could not finish this request; retry later"))
        finally:
            if method not in ("GET", "HEAD", "OPTIONS"):
                if self.cache is not None:
                    self.cache.bump()  # it may have written through this thread's connection
                self.live.notify()  # committed (or not): streams look at once

    def refusal(self, exc: MarketError, headers: Mapping[str, str], method: str = "", target: str = "") -> Response:
        """The answer to a request refused before dispatch (e.g. an oversize body), in the protocol
        of the route ``method target`` names (the market's envelope unless the route says otherwise),
        with the balance when it carries a valid key."""
        route, _, _ = find_route(method, target.partition("?")[0])
        return self._refusal(route, exc, self._known_caller(headers))

    def _refusal(self, route: Route | None, exc: MarketError, caller: Agent | None = None) -> Response:
        if route is not None and route.fault is not None:
            reply = route.fault(exc)
            return Response(reply.status, encode(reply.data))
        return error_response(exc, self._balance(caller))

    def _cached(self, route: Route, params: dict[str, str], query: str, target: str,
                caller: Agent | None = None) -> Response:
        """A GET (anonymous, or ``caller``'s, who is part of ``target``), answered from the cache
        when the market has not changed since."""
        assert self.cache is not None
        version = self.cache.version()
        body = self.cache.get(target, version)
        if body is not None:
            return Response(200, body)
        response = self._run(route, self._call(caller, params, query, {}))
        if response.status == 200:
            self.cache.put(target, version, response.body)
        return response

    def _call(self, caller: Agent | None, params: dict[str, str], query: str, body: dict[str, Any],
              origin: Origin | None = None, headers: Mapping[str, str] | None = None, raw: bytes = b"") -> Call:
        return Call(self.market, caller, {name: unquote(value) for name, value in params.items()}, _query(query),
                    body, self.hire_runner, origin, headers=headers or {}, live=self.live, raw=raw)

    def _origin(self, route: Route, peer: str | None, headers: Mapping[str, str]) -> Origin | None:
        if peer is None or not route.origin:
            return None
        return Origin(self.client_address.of(peer, headers), self.registrations_per_hour)

    def _known_caller(self, headers: Mapping[str, str]) -> Agent | None:
        """The agent whose valid key the request carries, if any; never raises, never rate limits."""
        api_key = headers.get(API_KEY_HEADER)
        if api_key is None:
            return None
        try:
            return self.market.agents.caller(api_key)
        except MarketError:
            return None

    def _caller(self, headers: Mapping[str, str], *, required: bool) -> Agent | None:
        """The agent whose key the request carries (rate limited per key), if any.

        Raises:
            AuthRequired: ``required`` and no key. InvalidApiKey. RateLimited.
        """
        api_key = headers.get(API_KEY_HEADER)
        if api_key is None:
            if required:
                raise AuthRequired(f"this endpoint needs your API key in the {API_KEY_HEADER} header")
            return None
        try:
            self.limiter.check(api_key)
        except RateLimited as exc:  # every answer to a valid key shows its balance (SPEC §4)
            raise _WithBalance(exc, self._balance(self._known_caller(headers))) from None
        return self.market.agents.caller(api_key)

    def _run(self, route: Route, call: Call) -> Response:
        return self._render(route, route.handler(call), call)

    def _render(self, route: Route, reply: Reply, call: Call) -> Response:
        if route.streamed:
            return Response(reply.status, b"", stream=reply.data, content_type=EVENT_STREAM_TYPE)
        if not route.enveloped:
            return Response(reply.status, encode(reply.data))
        return Response(reply.status, encode(self._envelope(reply, call.caller)))

    def _once(self, route: Route, call: Call, key: str, method: str, path: str, body: bytes) -> Response:
        """Run an idempotent request at most once per (caller, key); ``body``: the request's
        canonical bytes."""
        agent_id = call.caller.id if call.caller is not None else None
        stored = self.keys.begin(agent_id, key, idem.fingerprint(method, path, body))
        if stored is not None:
            return Response(stored.status, stored.body, (("Idempotent-Replayed", "true"),))
        try:
            response = self._run(route, call)
        except MarketError as exc:
            if exc.status == 429:
                # Nothing ran (a limit refused it before the market acted): free the key, as
                # Stripe does, so a retry once the limit allows it is a first attempt.
                self.keys.release(agent_id, key)
                raise
            response = error_response(exc, self._balance(call.caller))
        # Left claimed on any other error: the request's outcome is unknown (see engine.services.idempotency).
        self.keys.finish(agent_id, key, response.status, response.body)
        return response

    def _envelope(self, reply: Reply, caller: Agent | None) -> dict[str, Any]:
        envelope: dict[str, Any] = {"success": True, "data": reply.data}
        if reply.pagination is not None:
            envelope["pagination"] = reply.pagination
        balance = self._balance(caller) if caller is not None else reply.balance
        if balance is not None:
            envelope["balance"] = balance
        return envelope

    def _balance(self, caller: Agent | None) -> int | None:
        if caller is None:
            return None
        try:
            return self.market.balance(caller.id)
        except MarketError:
            return None


class _WithBalance(Exception):
    """A refusal that already knows the caller's balance (the caller itself is not known yet)."""

    def __init__(self, error: MarketError, balance: int | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.balance = balance


def encode_canonical(value: Any) -> bytes:
    """JSON that is the same for equal values, whatever their key order or spacing."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _query(query: str) -> dict[str, str]:
    """The query parameters, first value of each. An empty value (``?status=``) is the same
    as an absent parameter, for every parameter."""
    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=False, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise BadRequest(f"at most {MAX_QUERY_FIELDS} query parameters") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    return params


def _body(route: Route, raw: bytes) -> dict[str, Any]:
    """The body as the route's handler wants it: cleaned by its schema, or ``{}``."""
    data = _json_object(raw)
    if route.body is None:
        return {}
    return route.body.validate(data, partial=route.partial)


def _json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body (empty is ``{}``).

    Raises:
        InvalidJSON: not JSON, not an object, NaN/Infinity, or text that is not Unicode.
    """
    if not raw.strip():
        return {}
    try:
        # Strict UTF-8: json.loads(bytes) would let raw surrogate bytes through (surrogatepass).
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_refuse_constant)
        if "\\u" in text:
            _COMPACT.encode(data).encode()  # a lone surrogate escape (e.g. "\ud800") is not text we can store
    except (ValueError, RecursionError, UnicodeError):
        raise InvalidJSON("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidJSON("the request body must be a JSON object")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
