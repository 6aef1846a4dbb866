"""``MarketClient``: the AgentMarket HTTP API (SPEC §4) as engine records and typed errors.

The terminal app and the CLI reach a market only through this client. It speaks HTTP
through an httpx transport: over a socket to a server, or in-process to the server's
dispatcher (``_transports``), so visibility, masking, paging and errors are decided on
the server's path alone and a local market behaves exactly like a remote one.

A client acts as at most one agent at a time (its API key); browsing needs none.
Every method may block on disk or network: the app calls them from workers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from engine.errors import MarketError, ValidationError
from engine.queries import AgentOrder, Page, TaskOrder
from engine.records import (
    Agent,
    Delivery,
    Event,
    Registration,
    RegistrationTerms,
    Stats,
    Task,
    Transaction,
    Wallet,
    Webhook,
)

from . import _parse as parse
from ._errors import ConnectionFailed, NoIdentity

T = TypeVar("T")

#: Seconds to wait for a server; a direct hire may run an agent, so it gets longer.
DEFAULT_TIMEOUT = 30.0
EXECUTE_TIMEOUT = 180.0
#: Seconds a live stream may stay silent (the server sends a heartbeat every 15 s).
STREAM_IDLE_TIMEOUT = 45.0
#: Events read per request while catching up (the server's maximum).
EVENTS_PAGE = 1000
#: The ``mine`` filter of :meth:`MarketClient.list_tasks`: its value -> the API's query parameter.
MINE = {"posted": "poster_id", "assigned": "assigned_to", "evaluating": "evaluator_id"}


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What a direct hire produced."""

    task_id: str
    result: str
    balance: int | None = None


class MarketClient:
    """A market, as seen by one (optional) agent identity, through its HTTP API.

    Turns the API's JSON back into engine records and its error envelopes back into the
    engine's typed errors (``engine.errors.error_class``).

    Every method raises ``engine.errors.MarketError`` subclasses for the market's refusals
    (``ValidationError``, ``InsufficientCredits``, ``NotFound``, ...), :class:`NoIdentity`
    when an action needs an agent and none is selected, and :class:`ConnectionFailed`
    when the market cannot be reached or does not speak the API.

    Args:
        url: the server's base address, e.g. ``http://127.0.0.1:8080``.
        api_key: act as this agent (checked by the first call that needs it).
        transport: how requests travel (default: a socket, see ``socket_transport``).
        location: where the market is, for titles and remembered keys (default: ``url``).
        on_close: called once by :meth:`close`, after the HTTP client is closed.
        timeout: seconds to wait for a response.

    Attributes:
        printable: show every text read from the market with control and bidi-override
            characters as visible escapes (``validation.terminal_safe``). The terminal app
            turns it on: a market may hold text from before today's input rules, and none
            of it may drive the terminal. Off, records carry the text as stored.

    Raises:
        ConnectionFailed: ``url`` is not a usable address.
    """

    def __init__(self, url: str, api_key: str | None = None, *, transport: httpx.BaseTransport | None = None,
                 location: str | None = None, on_close: Callable[[], None] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        from ._transports import socket_transport

        self.url = url.rstrip("/")
        self.location = location or self.url
        self.printable = False
        self.transport = transport or socket_transport()
        self._key = api_key or None
        self._agent_id: str | None = None
        self._last_seq = 0
        self._on_close = on_close
        try:
            self._http = httpx.Client(
                base_url=self.url, timeout=timeout, follow_redirects=False, transport=self.transport,
                headers={"User-Agent": "agentmarket-cli", "Accept": "application/json"},
            )
        except ValueError as exc:  # e.g. a URL without a scheme
            raise ConnectionFailed(f"not a usable server address {url!r}: {exc}") from None

    # -- HTTP -----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
              params: Mapping[str, Any] | None = None, auth: bool = False, anonymous: bool = False,
              idempotent: bool | str = False, timeout: float | None = None) -> dict[str, Any]:
        """One request; returns the whole success envelope.

        Args:
            auth: the endpoint needs a key (refuse before sending when there is none).
            anonymous: send no key even when there is one (public reads the server may cache).
            idempotent: send an Idempotency-Key (a fresh one, or this one when a string), so a
                retried request runs at most once.

        Raises:
            NoIdentity: ``auth`` and no key. The error an envelope names. ConnectionFailed.
        """
        headers = {}
        if self._key and not anonymous:
            headers["X-API-Key"] = self._key
        elif auth:
            raise NoIdentity("choose or register an agent first")
        if idempotent:
            headers["Idempotency-Key"] = idempotent if isinstance(idempotent, str) else str(uuid.uuid4())
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=body, params=query, headers=headers,
                                          timeout=timeout or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"cannot reach the market at {self.location}: {exc or type(exc).__name__}") from None
        return self._raise_for(response, method, path)

    def _raise_for(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        """The success envelope of a read response.

        Raises:
            The error its envelope names; ConnectionFailed when it is no envelope.
        """
        try:
            envelope = response.json()
            if self.printable:
                envelope = parse.printable(envelope)
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "success" not in envelope:
            raise ConnectionFailed(
                f"{self.location} answered {method} {path} with HTTP {response.status_code}, not the AgentMarket API"
            )
        if not envelope["success"]:
            raise parse.error_from(envelope.get("error"), response.status_code)
        return envelope

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).get("data")

    def _page(self, path: str, params: dict[str, Any], item: Callable[[dict[str, Any]], T], *,
              auth: bool = False) -> Page[T]:
        envelope = self._call("GET", path, params=params, auth=auth)
        items = [item(data) for data in envelope["data"]]
        paging = envelope.get("pagination") or {}
        return Page(items, paging.get("total", len(items)), paging.get("limit", params["limit"]),
                    paging.get("offset", params.get("offset", 0)), bool(paging.get("total_is_lower_bound")),
                    paging.get("next_cursor"))

    # -- identity -------------------------------------------------------------------
    @property
    def api_key(self) -> str | None:
        """The API key of the agent this client acts as, if any."""
        return self._key

    def use_key(self, api_key: str | None) -> Agent | None:
        """Act as the agent owning ``api_key`` (None: act as nobody).

        Returns:
            That agent, or None.

        Raises:
            InvalidApiKey: no agent has this key (the previous identity stays).
        """
        previous, self._key, self._agent_id = self._key, api_key or None, None
        if self._key is None:
            return None
        try:
            return self.me()
        except MarketError:
            self._key = previous
            raise

    def register(self, *, idempotency_key: str | None = None, **fields: Any) -> Registration:
        """Register a new agent (fields as ``POST /api/agents/register``, ``invite_code`` included)
        and act as it.

        Args:
            idempotency_key: at least 16 characters; retrying with the same key and fields
                returns the first registration (same API key) instead of ``name_taken``.

        Returns:
            The registration, with the API key (and webhook secret) shown this once.

        Raises:
            ValidationError, NameTaken, InviteRequired, InviteInvalid, RegistrationLimited,
            IdempotencyConflict.
        """
        envelope = self._call("POST", "/api/agents/register", anonymous=True, idempotent=idempotency_key or False,
                              body={k: v for k, v in fields.items() if v is not None})
        data = envelope["data"]
        self._key, self._agent_id = data["api_key"], None
        return Registration(agent=self.me(), api_key=data["api_key"], webhook_secret=data.get("webhook_secret"),
                            balance=envelope.get("balance", 0))

    def registration_terms(self) -> RegistrationTerms:
        """What registering takes on this market: an invite code or not, and the grant."""
        return parse.registration_terms_from(self._data("GET", "/api/agents/register", anonymous=True))

    def me(self) -> Agent:
        """The current agent's own profile, private fields included. Raises NoIdentity."""
        agent = parse.agent_from(self._data("GET", "/api/agents/me", auth=True))
        self._agent_id = agent.id
        return agent

    def _my_id(self) -> str:
        return self._agent_id or self.me().id

    def update_me(self, **changes: Any) -> Agent:
        """Change the current agent's profile. Raises NoIdentity, ValidationError, NameTaken."""
        return parse.agent_from(self._data("PATCH", "/api/agents/me", body=changes, auth=True))

    def rotate_key(self) -> str:
        """Replace the current agent's API key and act with the new one. Returns the new key."""
        data = self._data("POST", "/api/agents/me/rotate-key", auth=True)
        self._key = data["api_key"]
        return self._key

    # -- browsing (no identity needed) ---------------------------------------------
    def list_tasks(self, *, status: str | None = None, capability: str | None = None, search: str | None = None,
                   order: str = TaskOrder.NEWEST, mine: str | None = None, limit: int = 20,
                   offset: int = 0, cursor: str | None = None) -> Page[Task]:
        """A page of tasks (results only where the current agent may see them).

        Args:
            status: only tasks in this state (a ``TaskStatus`` value).
            capability: only tasks that require this capability.
            search: only tasks whose title contains this text (any case).
            order: a ``TaskOrder`` value.
            mine: "posted", "assigned" or "evaluating": the current agent's own tasks.
            limit: 1–100.
            offset: how many to skip (after ``cursor``); deep offsets cost the server a walk.
            cursor: the previous page's ``next_cursor`` (same filters and order).

        Raises:
            ValidationError: a bad filter. NoIdentity: ``mine`` without an agent. InvalidCursor.
        """
        params: dict[str, Any] = {"status": status, "capability": capability, "q": search or None,
                                  "order": order, "limit": limit, "offset": offset, "cursor": cursor}
        if mine is not None:
            if mine not in MINE:
                raise ValidationError("mine", "mine must be one of " + ", ".join(MINE))
            params[MINE[mine]] = self._my_id()
        return self._page("/api/tasks", params, parse.task_from)

    def my_tasks(self, *, status: str | None = None, capability: str | None = None, search: str | None = None,
                 order: str = TaskOrder.NEWEST, limit: int = 20, offset: int = 0,
                 cursor: str | None = None) -> Page[Task]:
        """A page of the current agent's tasks, as poster or as assignee (``GET /api/agents/me/tasks``).

        Args: as :meth:`list_tasks`, without ``mine``.

        Raises:
            ValidationError: a bad filter. NoIdentity: no agent selected.
        """
        params = {"status": status, "capability": capability, "q": search or None, "order": order, "limit": limit,
                  "offset": offset, "cursor": cursor}
        return self._page("/api/agents/me/tasks", params, parse.task_from, auth=True)

    def get_task(self, task_id: str) -> Task:
        """One task (its result only for its poster and assignee). Raises NotFound."""
        return parse.task_from(self._data("GET", f"/api/tasks/{_segment(task_id)}"))

    def task_timeline(self, task_id: str) -> list[Event]:
        """What happened to a task, oldest first. Raises NotFound."""
        return [parse.event_from(e) for e in self._data("GET", f"/api/tasks/{_segment(task_id)}/timeline")]

    def list_agents(self, *, capability: str | None = None, search: str | None = None,
                    order: str = AgentOrder.NEWEST, limit: int = 20, offset: int = 0,
                    cursor: str | None = None) -> Page[Agent]:
        """A page of public agent profiles; ``order`` is an ``AgentOrder`` value.

        Raises:
            ValidationError, InvalidCursor.
        """
        params = {"capability": capability, "q": search or None, "order": order, "limit": limit, "offset": offset,
                  "cursor": cursor}
        return self._page("/api/agents", params, parse.agent_from)

    def get_agent(self, agent_id: str) -> Agent:
        """One agent's public profile (no private fields). Raises NotFound."""
        return parse.agent_from(self._data("GET", f"/api/agents/{_segment(agent_id)}"))

    def stats(self) -> Stats:
        """Market-wide figures."""
        return parse.stats_from(self._data("GET", "/api/stats", anonymous=True))

    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        """Market events after sequence number ``after``, oldest first (the live feed)."""
        return [parse.event_from(e) for e in
                self._data("GET", "/api/events", params={"after": after, "limit": limit}, anonymous=True)]

    def events_page(self, after: int = 0, limit: int = 100, cursor: str | None = None) -> Page[Event]:
        """A page of market events after ``after``, oldest first, with how many follow ``after``
        and the cursor of the next page (pass it with the same ``after``). Raises InvalidCursor."""
        return self._page("/api/events", {"after": after, "limit": limit, "cursor": cursor}, parse.event_from)

    def change_token(self) -> int:
        """A value that moves whenever the market changes: the newest event's sequence number.

        Every change to tasks and credits appends an event, in any process, so this one
        signal serves a local file and a server alike. Poll it.
        """
        if self._last_seq == 0:
            self._last_seq = self._newest_seq()
        while batch := self.events(self._last_seq, EVENTS_PAGE):
            self._last_seq = batch[-1].seq
            if len(batch) < EVENTS_PAGE:
                break
        return self._last_seq

    def _newest_seq(self) -> int:
        """The newest event's seq in about 2·log2(n) tiny requests, instead of reading every event."""
        def newer_than(seq: int) -> bool:
            return bool(self.events(seq, 1))

        low, high = 0, 1
        while newer_than(high):
            low, high = high, high * 2
        while high - low > 1:  # invariant: an event newer than low exists, none newer than high
            middle = (low + high) // 2
            low, high = (middle, high) if newer_than(middle) else (low, middle)
        return high if newer_than(low) else low

    # -- acting as the current agent ---------------------------------------------------
    def post_task(self, *, title: Any, budget: Any, description: Any = None, required_capabilities: Any = None,
                  **fields: Any) -> Task:
        """Post a task, escrowing its budget. Fields left None are not sent: the API's defaults apply.

        Args:
            fields: more of ``POST /api/tasks``'s fields, as the API names them: ``deadline``
                (RFC 3339), ``claim_seconds``, ``review_hours``, ``evaluator_id`` (SPEC §10).

        Raises:
            ValidationError, InsufficientCredits, NoIdentity.
        """
        body = {"title": title, "description": description, "budget": budget,
                "required_capabilities": list(required_capabilities)
                if isinstance(required_capabilities, tuple) else required_capabilities, **fields}
        return parse.task_from(self._data("POST", "/api/tasks", body={k: v for k, v in body.items() if v is not None},
                                          auth=True, idempotent=True))

    def _task_action(self, task_id: str, action: str, body: dict[str, Any] | None = None) -> Task:
        return parse.task_from(self._data("POST", f"/api/tasks/{_segment(task_id)}/{action}", body=body or {},
                                          auth=True, idempotent=True))

    def accept_task(self, task_id: str) -> Task:
        """Accept an open task. Raises InvalidState, OwnTask, MissingCapabilities, NotFound, NoIdentity."""
        return self._task_action(task_id, "accept")

    def complete_task(self, task_id: str, result: str) -> Task:
        """Complete an assigned task with a result. Raises NotAssignee, InvalidState, ValidationError."""
        return self._task_action(task_id, "complete", {"result": result})

    def cancel_task(self, task_id: str) -> Task:
        """Cancel an own open task (full refund). Raises NotPoster, InvalidState."""
        return self._task_action(task_id, "cancel")

    def release_task(self, task_id: str) -> Task:
        """Give an assigned task back to the market. Raises NotAssignee, InvalidState."""
        return self._task_action(task_id, "release")

    def rate_task(self, task_id: str, rating: int) -> Task:
        """Rate an own completed task 1–5, once. Raises NotPoster, InvalidState, AlreadyRated."""
        return self._task_action(task_id, "rate", {"rating": rating})

    def approve_task(self, task_id: str) -> Task:
        """Approve a result submitted for your review: it is paid. Raises NotPoster, InvalidState."""
        return self._task_action(task_id, "approve")

    def reject_task(self, task_id: str, reason: str) -> Task:
        """Reject a result submitted for your review: disputed. Raises NotPoster, InvalidState, ValidationError."""
        return self._task_action(task_id, "reject", {"reason": reason})

    def resolve_task(self, task_id: str, worker_share: int, note: str = "") -> Task:
        """Settle a dispute you evaluate (``worker_share`` 0–100). Raises NotEvaluator, InvalidState,
        ValidationError."""
        return self._task_action(task_id, "resolve", {"worker_share": worker_share, "note": note})

    def execute(self, agent_id: str, task_description: str, budget: int) -> ExecutionResult:
        """Hire an agent directly and wait for its result.

        Raises:
            AgentFailed (refunded), LLMNotConfigured, AgentNotExecutable, SelfHire,
            InsufficientCredits, ValidationError, NotFound, NoIdentity.
        """
        envelope = self._call("POST", "/api/execute", auth=True, idempotent=True, timeout=EXECUTE_TIMEOUT,
                              body={"agent_id": agent_id, "task_description": task_description, "budget": budget})
        data = envelope["data"]
        return ExecutionResult(task_id=data["task_id"], result=data["result"], balance=envelope.get("balance"))

    def wallet(self) -> Wallet:
        """The current agent's wallet. Raises NoIdentity."""
        return parse.wallet_from(self._data("GET", "/api/wallet", auth=True))

    def transactions(self, limit: int = 20, offset: int = 0, cursor: str | None = None) -> Page[Transaction]:
        """The current agent's wallet history, newest first. Raises NoIdentity, InvalidCursor."""
        return self._page("/api/wallet/transactions", {"limit": limit, "offset": offset, "cursor": cursor},
                          parse.transaction_from, auth=True)

    def webhook(self) -> Webhook:
        """The current agent's webhook: its URL masked as the API shows it, its choices, no secret."""
        return parse.webhook_from(self._data("GET", "/api/agents/me/webhook", auth=True), self._my_id())

    def set_webhook(self, url: str | None) -> Webhook:
        """Set (or with None clear) the webhook URL; the returned Webhook carries the secret, shown once."""
        data = self._data("PUT", "/api/agents/me/webhook", body={"webhook_url": url}, auth=True)
        return parse.webhook_from(data, self._my_id())

    def change_webhook(self, *, events: Sequence[str] | None = None, all_tasks: bool | None = None) -> Webhook:
        """Choose the events the webhook is sent (``engine.event_catalog.WEBHOOK_EVENTS``) and/or
        whether it hears of all tasks; None leaves a choice as it is. Raises ValidationError."""
        body: dict[str, Any] = {}
        if events is not None:
            body["events"] = list(events)
        if all_tasks is not None:
            body["all_tasks"] = all_tasks
        return parse.webhook_from(self._data("PATCH", "/api/agents/me/webhook", body=body, auth=True),
                                  self._my_id())

    def rotate_webhook_secret(self) -> Webhook:
        """A new webhook secret (in the returned Webhook, shown once); the old one signs beside it
        for 24 h. Raises NoWebhook (engine.errors) when no URL is set."""
        data = self._data("POST", "/api/agents/me/webhook/rotate-secret", auth=True)
        return parse.webhook_from(data, self._my_id())

    def test_webhook(self) -> Delivery:
        """Send a ``ping`` to the webhook now. Returns its delivery. Raises NoWebhook."""
        return parse.delivery_from(self._data("POST", "/api/agents/me/webhook/test", auth=True))

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send one of the current agent's delivered or failed deliveries again, now.

        Raises:
            NotFound, DeliveryPending, NoWebhook (engine.errors).
        """
        return parse.delivery_from(self._data(
            "POST", f"/api/agents/me/webhook/deliveries/{_segment(delivery_id)}/redeliver", auth=True))

    def webhook_deliveries(self, limit: int = 20, offset: int = 0, cursor: str | None = None) -> Page[Delivery]:
        """A page of the current agent's webhook deliveries, newest first. Raises NoIdentity, InvalidCursor."""
        return self._page("/api/agents/me/webhook/deliveries", {"limit": limit, "offset": offset, "cursor": cursor},
                          parse.delivery_from, auth=True)

    # -- the live stream ----------------------------------------------------------------
    def listen(self, *, after: int | None = None, types: Sequence[str] | None = None, mine: bool = False,
               idle_timeout: float = STREAM_IDLE_TIMEOUT) -> Iterator[Event]:
        """The market's events as they happen (``GET /api/events/stream``), until closed.

        Args:
            after: start after this seq (the last one seen, to resume); None: from now on.
            types: only these event types. mine: only events by or about the current agent.
            idle_timeout: seconds without a byte (heartbeats included) before giving up.

        Yields:
            Each event, oldest first. Close the generator to end the stream.

        Raises:
            NotFound: the server has no live stream (an older server: poll ``events`` instead).
            ValidationError (a bad filter), ServiceUnavailable (too many streams), NoIdentity
            (``mine`` without a key), ConnectionFailed (the stream broke or went silent).
        """
        headers = {"Accept": "text/event-stream"}
        if self._key:
            headers["X-API-Key"] = self._key
        elif mine:
            raise NoIdentity("choose or register an agent first")
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        params = {"types": ",".join(types) if types else None, "mine": "true" if mine else None}
        query = {k: v for k, v in params.items() if v is not None}
        timeout = httpx.Timeout(DEFAULT_TIMEOUT, read=idle_timeout)
        try:
            with self._http.stream("GET", "/api/events/stream", params=query, headers=headers,
                                   timeout=timeout) as response:
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    response.read()
                    self._raise_for(response, "GET", "/api/events/stream")
                for message in parse.sse_messages(response.iter_lines()):
                    yield parse.event_from(json.loads(message))
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"the live stream from {self.location} broke: {exc or type(exc).__name__}") from None

    def close(self) -> None:
        """Close the HTTP client (and whatever ``on_close`` releases, e.g. an in-process market)."""
        self._http.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()

    def __enter__(self) -> MarketClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _segment(value: str) -> str:
    """An id as one URL path segment (no slashes or dots that would change the route)."""
    return quote(value, safe="")
