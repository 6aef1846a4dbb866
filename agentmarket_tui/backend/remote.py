"""``RemoteBackend``: a market server, through its HTTP API (httpx, one keep-alive client)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx

from engine.errors import MarketError, ValidationError, error_class
from engine.records import Agent, Delivery, Event, Registration, Stats, Task, Transaction, Wallet, Webhook

from .base import Backend, ExecutionResult, Page
from .errors import ConnectionFailed, NoIdentity

#: Seconds to wait for a server; a direct hire may run an agent, so it gets longer.
DEFAULT_TIMEOUT = 30.0
EXECUTE_TIMEOUT = 180.0
#: Events read per request while catching up (the server's maximum).
EVENTS_PAGE = 1000


class RemoteBackend(Backend):
    """A backend that speaks the AgentMarket HTTP API (SPEC §4).

    Turns the API's JSON back into engine records and its error envelopes back into
    the engine's typed errors (``engine.errors.error_class``), so callers handle a
    remote market exactly like a local one.

    Args:
        url: the server's base address, e.g. ``http://127.0.0.1:8080``.
        api_key: act as this agent (not checked until the first call that needs it).
        timeout: seconds to wait for a response.
    """

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.location = url.rstrip("/")
        self._key = api_key or None
        self._agent_id: str | None = None
        self._last_seq = 0
        try:
            self._http = httpx.Client(
                base_url=self.location, timeout=timeout, follow_redirects=False,
                transport=httpx.HTTPTransport(retries=1),  # retries connecting only: nothing was sent
                headers={"User-Agent": "agentmarket-cli", "Accept": "application/json"},
            )
        except ValueError as exc:  # e.g. a URL without a scheme
            raise ConnectionFailed(f"not a usable server address {url!r}: {exc}") from None

    # -- HTTP -----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None, auth: bool = False, idempotent: bool = False,
              timeout: float | None = None) -> dict[str, Any]:
        """One request; returns the whole success envelope.

        Raises:
            NoIdentity: ``auth`` and no key. The error an envelope names. ConnectionFailed.
        """
        headers = {}
        if self._key:
            headers["X-API-Key"] = self._key
        elif auth:
            raise NoIdentity("choose or register an agent first")
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=body, params=query, headers=headers,
                                          timeout=timeout or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"cannot reach the market at {self.location}: {exc or type(exc).__name__}") from None
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "success" not in envelope:
            raise ConnectionFailed(
                f"{self.location} answered {method} {path} with HTTP {response.status_code}, not the AgentMarket API"
            )
        if not envelope["success"]:
            raise _error(envelope.get("error"), response.status_code)
        return envelope

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).get("data")

    # -- identity -------------------------------------------------------------------
    @property
    def api_key(self) -> str | None:
        return self._key

    def use_key(self, api_key: str | None) -> Agent | None:
        previous, self._key, self._agent_id = self._key, api_key or None, None
        if self._key is None:
            return None
        try:
            return self.me()
        except MarketError:
            self._key = previous
            raise

    def register(self, **fields: Any) -> Registration:
        envelope = self._call("POST", "/api/agents/register",
                              body={k: v for k, v in fields.items() if v is not None})
        data = envelope["data"]
        self._key, self._agent_id = data["api_key"], None
        return Registration(agent=self.me(), api_key=data["api_key"], webhook_secret=data.get("webhook_secret"),
                            balance=envelope.get("balance", 0))

    def me(self) -> Agent:
        agent = agent_from(self._data("GET", "/api/agents/me", auth=True))
        self._agent_id = agent.id
        return agent

    def _my_id(self) -> str:
        return self._agent_id or self.me().id

    def update_me(self, **changes: Any) -> Agent:
        return agent_from(self._data("PATCH", "/api/agents/me", body=changes, auth=True))

    def rotate_key(self) -> str:
        data = self._data("POST", "/api/agents/me/rotate-key", auth=True)
        self._key = data["api_key"]
        return self._key

    # -- browsing -------------------------------------------------------------------
    def list_tasks(
        self,
        *,
        status: str | None = None,
        capability: str | None = None,
        search: str | None = None,
        order: str = "newest",
        mine: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Task]:
        params: dict[str, Any] = {"status": status, "capability": capability, "q": search or None,
                                  "order": order, "limit": limit, "offset": offset}
        if mine == "posted":
            params["poster_id"] = self._my_id()
        elif mine == "assigned":
            params["assigned_to"] = self._my_id()
        elif mine is not None:
            raise ValidationError("mine", "mine must be 'posted' or 'assigned'")
        return self._page("/api/tasks", params, task_from)

    def get_task(self, task_id: str) -> Task:
        return task_from(self._data("GET", f"/api/tasks/{_segment(task_id)}"))

    def task_timeline(self, task_id: str) -> list[Event]:
        return [event_from(e) for e in self._data("GET", f"/api/tasks/{_segment(task_id)}/timeline")]

    def list_agents(
        self,
        *,
        capability: str | None = None,
        search: str | None = None,
        order: str = "newest",
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Agent]:
        params = {"capability": capability, "q": search or None, "order": order, "limit": limit, "offset": offset}
        return self._page("/api/agents", params, agent_from)

    def _page(self, path: str, params: dict[str, Any], parse: Any) -> Page[Any]:
        envelope = self._call("GET", path, params=params)
        items = [parse(item) for item in envelope["data"]]
        paging = envelope.get("pagination") or {}
        return Page(items, paging.get("total", len(items)), paging.get("limit", params["limit"]),
                    paging.get("offset", params["offset"]))

    def get_agent(self, agent_id: str) -> Agent:
        return agent_from(self._data("GET", f"/api/agents/{_segment(agent_id)}"))

    def stats(self) -> Stats:
        return Stats(**self._data("GET", "/api/stats"))

    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        return [event_from(e) for e in self._data("GET", "/api/events", params={"after": after, "limit": limit})]

    def change_token(self) -> Any:
        # Every change to tasks and credits appends an event: the newest seq moves with them.
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

    # -- acting ---------------------------------------------------------------------
    def post_task(self, *, title: Any, description: Any, budget: Any, required_capabilities: Any) -> Task:
        body = {"title": title, "description": description, "budget": budget,
                "required_capabilities": list(required_capabilities)
                if isinstance(required_capabilities, tuple) else required_capabilities}
        return task_from(self._data("POST", "/api/tasks", body=body, auth=True, idempotent=True))

    def _task_action(self, task_id: str, action: str, body: dict[str, Any] | None = None) -> Task:
        return task_from(self._data("POST", f"/api/tasks/{_segment(task_id)}/{action}", body=body or {},
                                    auth=True, idempotent=True))

    def accept_task(self, task_id: str) -> Task:
        return self._task_action(task_id, "accept")

    def complete_task(self, task_id: str, result: str) -> Task:
        return self._task_action(task_id, "complete", {"result": result})

    def cancel_task(self, task_id: str) -> Task:
        return self._task_action(task_id, "cancel")

    def release_task(self, task_id: str) -> Task:
        return self._task_action(task_id, "release")

    def rate_task(self, task_id: str, rating: int) -> Task:
        return self._task_action(task_id, "rate", {"rating": rating})

    def execute(self, agent_id: str, task_description: str, budget: int) -> ExecutionResult:
        envelope = self._call("POST", "/api/execute", auth=True, idempotent=True, timeout=EXECUTE_TIMEOUT,
                              body={"agent_id": agent_id, "task_description": task_description, "budget": budget})
        data = envelope["data"]
        return ExecutionResult(task_id=data["task_id"], result=data["result"], balance=envelope.get("balance"))

    def wallet(self) -> Wallet:
        data = self._data("GET", "/api/wallet", auth=True)
        return Wallet(agent_id=data["agent_id"], balance=data["balance"], escrowed=data.get("escrowed", 0),
                      earned=data.get("earned", 0), spent=data.get("spent", 0))

    def transactions(self, limit: int = 20, offset: int = 0) -> Page[Transaction]:
        if not self._key:
            raise NoIdentity("choose or register an agent first")
        return self._page("/api/wallet/transactions", {"limit": limit, "offset": offset},
                          lambda t: Transaction(**t))

    def webhook(self) -> Webhook:
        data = self._data("GET", "/api/agents/me/webhook", auth=True)
        return Webhook(agent_id=self._my_id(), url=data.get("webhook_url"))

    def set_webhook(self, url: str | None) -> Webhook:
        data = self._data("PUT", "/api/agents/me/webhook", body={"webhook_url": url}, auth=True)
        return Webhook(agent_id=self._my_id(), url=data.get("webhook_url"), secret=data.get("webhook_secret"))

    def webhook_deliveries(self, limit: int = 20) -> list[Delivery]:
        data = self._data("GET", "/api/agents/me/webhook/deliveries", params={"limit": limit}, auth=True)
        return [delivery_from(d) for d in data]

    def close(self) -> None:
        self._http.close()


# -- the API's JSON (engine.views shapes) back into records ---------------------------
def agent_from(data: dict[str, Any]) -> Agent:
    """An Agent from ``views.agent_public`` or ``views.agent_private`` (private fields may be absent)."""
    return Agent(
        id=data["id"], name=data["name"], description=data.get("description", ""),
        capabilities=tuple(data.get("capabilities", ())), price_per_task=data.get("price_per_task", 0),
        owner_email=data.get("owner_email", ""), endpoint_url=data.get("endpoint_url"),
        system_prompt=data.get("system_prompt"), webhook_url=data.get("webhook_url"),
        reputation_score=data.get("reputation_score"), rating_count=data.get("rating_count", 0),
        total_tasks=data.get("total_tasks", 0), created_at=data.get("created_at", ""),
    )


def task_from(data: dict[str, Any]) -> Task:
    """A Task from ``views.task`` (``result`` is absent for viewers who may not see it)."""
    return Task(
        id=data["id"], title=data["title"], description=data.get("description", ""), budget=data["budget"],
        required_capabilities=tuple(data.get("required_capabilities", ())), status=data["status"],
        kind=data.get("kind", "market"), poster_id=data.get("poster_id", ""), assigned_to=data.get("assigned_to"),
        result=data.get("result"), rating=data.get("rating"), escrow=data.get("escrow", 0),
        created_at=data.get("created_at", ""), updated_at=data.get("updated_at", ""),
    )


def event_from(data: dict[str, Any]) -> Event:
    return Event(seq=data["seq"], type=data["type"], task_id=data.get("task_id"), agent_id=data.get("agent_id"),
                 created_at=data.get("created_at", ""), data=data.get("data") or {})


def delivery_from(data: dict[str, Any]) -> Delivery:
    return Delivery(
        id=data["id"], event=data["event"], agent_id=data.get("agent_id", ""), task_id=data.get("task_id"),
        status=data["status"], attempts=data.get("attempts", 0), last_status_code=data.get("last_status_code"),
        last_error=data.get("last_error"), created_at=data.get("created_at", ""),
        updated_at=data.get("updated_at", ""),
    )


def _error(error: Any, status: int) -> MarketError:
    """The typed MarketError an error envelope stands for."""
    if not isinstance(error, dict):
        return ConnectionFailed(f"the server answered HTTP {status} without an error code")
    details = {k: v for k, v in error.items() if k not in ("code", "message", "field")}
    cls = error_class(str(error.get("code", "")))
    exc = cls.__new__(cls)  # subclasses' own __init__ signatures differ (ValidationError takes a field)
    MarketError.__init__(exc, str(error.get("message", "the server refused the request")),
                         field=error.get("field"), **details)
    if cls is MarketError:
        exc.code = str(error.get("code", "market_error"))  # an unknown code still reads as what it is
    return exc


def _segment(value: str) -> str:
    """An id as one URL path segment (no slashes or dots that would change the route)."""
    return quote(value, safe="")
