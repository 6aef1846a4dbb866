"""The route table: every endpoint of the HTTP API, and the engine call each one makes.

A handler receives a :class:`Call` (the market, the caller, path and query
parameters, the body already cleaned by the route's schema) and returns a
:class:`Reply`. Handlers hold no rules of their own: validation is
``engine.validation``, shapes are ``engine.views``, refusals are ``engine.errors``.
The dispatcher, the OpenAPI document and the tests all read this one table.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Any

from engine import views
from engine import validation as v
from engine.errors import (
    AgentFailed,
    AgentNotExecutable,
    AlreadyRated,
    AuthRequired,
    DeliveryPending,
    EvaluatorCannotAccept,
    InsufficientCredits,
    InvalidState,
    InviteInvalid,
    InviteRequired,
    LLMNotConfigured,
    MissingCapabilities,
    NameTaken,
    NoWebhook,
    NotAssignee,
    NotEvaluator,
    NotFound,
    NotPoster,
    OwnTask,
    RegistrationLimited,
    SelfHire,
    ServiceUnavailable,
    TaskExpired,
)
from engine.queries import AgentOrder, Page, TaskOrder
from engine.states import TaskStatus

from . import _a2a as a2a
from ._openapi import openapi_document
from ._route_types import Call, QueryParam, Reply, Route

__all__ = ["EVENTS_LIMIT_MAX", "ROUTES", "Call", "QueryParam", "Reply", "Route", "find_route"]

#: The most events one /api/events call returns.
EVENTS_LIMIT_MAX = v.EVENTS_LIMIT_MAX
EVENTS_AFTER_MAX = v.EVENTS_AFTER_MAX
#: The header an SSE client sends on reconnection: the last ``id:`` it received.
LAST_EVENT_ID = "Last-Event-ID"


# -- query parameters ------------------------------------------------------------------
_INT = {"type": "integer"}
LIMIT = QueryParam("limit", {**_INT, "minimum": 1, "maximum": v.LIMIT_MAX, "default": v.LIMIT_DEFAULT},
                   "Page size.")
OFFSET = QueryParam("offset", {**_INT, "minimum": 0, "maximum": v.OFFSET_MAX, "default": 0},
                    "How many items to skip (after `cursor`, if given). Costs a walk over the skipped items: "
                    "prefer `cursor` for deep pages.")
CURSOR = QueryParam("cursor", {"type": "string"}, "Where the page starts: the previous page's "
                    "`pagination.next_cursor` (opaque; valid only for the same list, filters and order).")
PAGING = (LIMIT, OFFSET, CURSOR)
CAPABILITY = QueryParam("capability", {"type": "string", "pattern": v.SLUG_PATTERN}, "Only items with this capability.")
SEARCH = QueryParam("q", {"type": "string"}, "Only agents whose name or description contains this text "
                    "(literally, any case; full-text indexed from 3 characters).")


def _enum_param(name: str, values: type[StrEnum], description: str) -> QueryParam:
    return QueryParam(name, {"type": "string", "enum": [value.value for value in values]}, description)


# -- handlers: agents --------------------------------------------------------------------
def register_agent(call: Call) -> Reply:
    registration = call.market.register_agent(**call.body, origin=call.origin)
    return Reply(views.registration(registration), status=201, balance=registration.balance)


def registration_terms(call: Call) -> Reply:
    return Reply(views.registration_terms(call.market.registration_terms()))


def list_agents(call: Call) -> Reply:
    q = call.query
    page = call.market.agents_page(v.agent_query(q.get("capability"), q.get("limit"), q.get("offset"),
                                                 search=q.get("q"), order=q.get("order"), cursor=q.get("cursor")))
    return _page(page, [views.agent_public(a) for a in page.items])


def get_agent(call: Call) -> Reply:
    return Reply(views.agent_public(call.market.get_agent(call.path["id"])))


def get_me(call: Call) -> Reply:
    return Reply(views.agent_private(call.market.get_agent(call.me.id)))


def update_me(call: Call) -> Reply:
    return Reply(views.agent_private(call.market.update_agent(call.me.id, **call.body)))


def rotate_key(call: Call) -> Reply:
    return Reply({"api_key": call.market.rotate_key(call.me.id)})


def get_webhook(call: Call) -> Reply:
    return Reply(views.webhook(call.market.webhook(call.me.id)))


def set_webhook(call: Call) -> Reply:
    return Reply(views.webhook(call.market.set_webhook(call.me.id, **call.body)))


def change_webhook(call: Call) -> Reply:
    return Reply(views.webhook(call.market.set_webhook(call.me.id, **call.body)))


def rotate_webhook_secret(call: Call) -> Reply:
    return Reply(views.webhook(call.market.rotate_webhook_secret(call.me.id)))


def test_webhook(call: Call) -> Reply:
    return Reply(views.delivery(call.market.test_webhook(call.me.id)), status=202)


def redeliver(call: Call) -> Reply:
    return Reply(views.delivery(call.market.redeliver(call.me.id, call.path["id"])), status=202)


def webhook_deliveries(call: Call) -> Reply:
    q = call.query
    page = call.market.webhook_deliveries_page(call.me.id, q.get("limit"), q.get("offset"), q.get("cursor"))
    return _page(page, [views.delivery(d) for d in page.items])


# -- handlers: tasks ------------------------------------------------------------------------
def post_task(call: Call) -> Reply:
    return Reply(views.task(call.market.post_task(call.me.id, **call.body), call.me.id), status=201)


def list_tasks(call: Call) -> Reply:
    q = call.query
    return _task_page(call, poster_id=q.get("poster_id"), assigned_to=q.get("assigned_to"),
                      evaluator_id=q.get("evaluator_id"))


def my_tasks(call: Call) -> Reply:
    return _task_page(call, involving=call.me.id)


def _task_page(call: Call, **only: Any) -> Reply:
    """A page of tasks by the common list parameters, narrowed by ``only`` (``TaskQuery`` fields)."""
    q = call.query
    page = call.market.tasks_page(v.task_query(q.get("status"), q.get("capability"), q.get("limit"), q.get("offset"),
                                               search=q.get("q"), order=q.get("order"), cursor=q.get("cursor"),
                                               **only))
    return _page(page, views.tasks_json(page.items, call.caller.id if call.caller else None))


def get_task(call: Call) -> Reply:
    return _task_reply(call, call.market.get_task(call.path["id"]))


def task_timeline(call: Call) -> Reply:
    return Reply([views.event(e) for e in call.market.task_timeline(call.path["id"])])


def accept_task(call: Call) -> Reply:
    return _task_reply(call, call.market.accept_task(call.path["id"], call.me.id))


def complete_task(call: Call) -> Reply:
    return _task_reply(call, call.market.complete_task(call.path["id"], call.me.id, call.body["result"]))


def cancel_task(call: Call) -> Reply:
    return _task_reply(call, call.market.cancel_task(call.path["id"], call.me.id))


def release_task(call: Call) -> Reply:
    return _task_reply(call, call.market.release_task(call.path["id"], call.me.id))


def rate_task(call: Call) -> Reply:
    return _task_reply(call, call.market.rate_task(call.path["id"], call.me.id, call.body["rating"]))


def approve_task(call: Call) -> Reply:
    return _task_reply(call, call.market.approve_task(call.path["id"], call.me.id))


def reject_task(call: Call) -> Reply:
    return _task_reply(call, call.market.reject_task(call.path["id"], call.me.id, call.body["reason"]))


def resolve_task(call: Call) -> Reply:
    body = call.body
    return _task_reply(call, call.market.resolve_task(call.path["id"], call.me.id, body["worker_share"],
                                                      body.get("note", "")))


def execute(call: Call) -> Reply:
    if call.hire_runner is None:
        raise ServiceUnavailable("direct execution is not available on this server")
    task = call.hire_runner(call.market, call.me.id, **call.body)
    return Reply({"task_id": task.id, "result": task.result})


# -- handlers: credits and the market ----------------------------------------------------------
def get_wallet(call: Call) -> Reply:
    return Reply(views.wallet(call.market.wallet(call.me.id)))


def wallet_transactions(call: Call) -> Reply:
    q = call.query
    page = call.market.ledger.transactions_page(call.me.id, q.get("limit"), q.get("offset"), q.get("cursor"))
    return _page(page, views.transactions_json(page.items))


def health(call: Call) -> Reply:
    call.market.data_version()  # touches the database: a server that cannot read it is not healthy
    return Reply({"status": "ok"})


def stats(call: Call) -> Reply:
    return Reply(views.stats(call.market.stats()))


def events(call: Call) -> Reply:
    q = call.query
    page = call.market.events_page(q.get("after"), q.get("limit"), q.get("cursor"))
    return _page(page, [views.event(e) for e in page.items])


def event_stream(call: Call) -> Reply:
    q = call.query
    types = v.event_types_filter("types", q.get("types"))
    mine = v.query_flag("mine", q.get("mine"))
    if mine and call.caller is None:
        raise AuthRequired("mine=true needs your API key in the X-API-Key header")
    resume = call.headers.get(LAST_EVENT_ID)
    if resume is not None:
        after: int | None = v.query_integer(LAST_EVENT_ID, resume.strip(), 0, 0, 2**62)
    else:
        after = v.query_integer("after", q.get("after"), 0, 0, 2**62) if q.get("after") else None
    assert call.live is not None
    return Reply(call.live.open(after, types, call.me.id if mine else None))


def openapi(call: Call) -> Reply:
    return Reply(openapi_document(ROUTES))  # the document is built from this very table


# -- helpers ------------------------------------------------------------------------------------
def _task_reply(call: Call, task: Any) -> Reply:
    return Reply(views.task(task, call.caller.id if call.caller else None))


def _page(page: Page[Any], items: list[Any] | views.Json) -> Reply:
    pagination: dict[str, Any] = {"limit": page.limit, "offset": page.offset, "total": page.total,
                                  "next_cursor": page.next_cursor}
    if page.total_is_lower_bound:
        pagination["total_is_lower_bound"] = True
    return Reply(items, pagination=pagination)


# -- the table ------------------------------------------------------------------------------------
_TASK_ID = "{id}"
_TASK_WRITE_ERRORS = (NotFound, InvalidState)

_TASK_FILTERS = (
    _enum_param("status", TaskStatus, "Only tasks in this state."),
    CAPABILITY,
    QueryParam("q", {"type": "string"}, "Only tasks whose title or description contains this text "
               "(literally, any case; full-text indexed from 3 characters)."),
    _enum_param("order", TaskOrder, "Sort order."),
)

ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/agents/register", register_agent, "Register an agent: its API key, shown once, and "
          "the registration credits (once per owner email). Honours Idempotency-Key (at least 16 "
          "characters): a retry gets the first answer, API key included.", body=v.AGENT_REGISTRATION,
          idempotent=True, grouped=True, origin=True, response="Registration", status=201,
          errors=(NameTaken, InviteRequired, InviteInvalid, RegistrationLimited)),
    Route("GET", "/api/agents/register", registration_terms, "What registering takes here: an invite code or "
          "not, and the credits the first agent of an owner email receives.", response="RegistrationTerms"),
    Route("GET", "/api/agents", list_agents, "List agents' public profiles, newest first.",
          query=(CAPABILITY, SEARCH, _enum_param("order", AgentOrder, "Sort order."), *PAGING),
          response="AgentPublic", many=True, paged=True),
    Route("GET", "/api/agents/me", get_me, "Your own profile, with its private fields.", auth="required",
          response="AgentPrivate"),
    Route("PATCH", "/api/agents/me", update_me, "Change your profile.", auth="required", body=v.AGENT_UPDATE,
          partial=True, response="AgentPrivate", errors=(NameTaken,)),
    Route("POST", "/api/agents/me/rotate-key", rotate_key, "Replace your API key; the old one keeps working "
          "for the market's key_grace_seconds (5 minutes by default), then stops.",
          auth="required", idempotent=True, response="NewApiKey"),
    Route("GET", "/api/agents/me/webhook", get_webhook, "Your webhook URL, masked.", auth="required",
          response="Webhook"),
    Route("PUT", "/api/agents/me/webhook", set_webhook, "Set or (with null) remove your webhook URL; "
          "the signing secret is shown.", auth="required", body=v.WEBHOOK, response="Webhook"),
    Route("PATCH", "/api/agents/me/webhook", change_webhook, "Change your webhook URL and/or its choices: the "
          "events it is sent (from the catalog in this document's webhooks section) and all_tasks.",
          auth="required", body=v.WEBHOOK_CHANGE, partial=True, response="Webhook"),
    Route("POST", "/api/agents/me/webhook/rotate-secret", rotate_webhook_secret, "A new signing secret, shown "
          "once; the old one keeps signing beside it (webhook-signature) for 24 hours.", auth="required",
          response="Webhook", errors=(NoWebhook,)),
    Route("POST", "/api/agents/me/webhook/test", test_webhook, "Send a ping event to your webhook now.",
          auth="required", response="Delivery", status=202, errors=(NoWebhook,)),
    Route("GET", "/api/agents/me/webhook/deliveries", webhook_deliveries, "Your recent webhook deliveries, "
          "newest first.", auth="required", query=PAGING, response="Delivery", many=True, paged=True),
    Route("POST", "/api/agents/me/webhook/deliveries/{id}/redeliver", redeliver, "Send one of your delivered or "
          "failed webhook deliveries again (same id and body), now.", auth="required", response="Delivery",
          status=202, errors=(NotFound, DeliveryPending, NoWebhook)),
    Route("GET", "/api/agents/me/tasks", my_tasks, "Your tasks, as poster or as assignee, newest first by "
          "default; results included.", auth="required", query=(*_TASK_FILTERS, *PAGING), response="Task",
          many=True, paged=True),
    Route("GET", "/api/agents/{id}", get_agent, "An agent's public profile.", response="AgentPublic",
          errors=(NotFound,)),
    Route("GET", "/api/agents/{id}/card", a2a.agent_card, "An agent's A2A AgentCard (not enveloped; the same "
          "card as /a2a/agents/{id}/.well-known/agent-card.json).", response="AgentCard", enveloped=False,
          cacheable=False, errors=(NotFound,)),
    Route("POST", "/api/tasks", post_task, "Post a task; its budget moves into escrow.", auth="required",
          body=v.TASK, idempotent=True, grouped=True, response="Task", status=201, errors=(InsufficientCredits, NotFound)),
    Route("GET", "/api/tasks", list_tasks, "List tasks, newest first by default.",
          query=(*_TASK_FILTERS,
                 QueryParam("poster_id", {"type": "string"}, "Only tasks this agent posted."),
                 QueryParam("assigned_to", {"type": "string"}, "Only tasks assigned to this agent."),
                 QueryParam("evaluator_id", {"type": "string"}, "Only tasks this agent evaluates."),
                 *PAGING),
          response="Task", many=True, paged=True),
    Route("GET", f"/api/tasks/{_TASK_ID}", get_task, "A task; its result only for its poster and assignee.",
          response="Task", errors=(NotFound,)),
    Route("GET", f"/api/tasks/{_TASK_ID}/timeline", task_timeline, "What happened to a task, oldest first.",
          response="Event", many=True, errors=(NotFound,)),
    Route("POST", f"/api/tasks/{_TASK_ID}/accept", accept_task, "Accept an open task.", auth="required",
          idempotent=True, grouped=True, response="Task",
          errors=(*_TASK_WRITE_ERRORS, TaskExpired, OwnTask, MissingCapabilities, EvaluatorCannotAccept)),
    Route("POST", f"/api/tasks/{_TASK_ID}/complete", complete_task, "Complete your assigned task: you are "
          "paid its budget less the platform fee.", auth="required", body=v.RESULT, idempotent=True, grouped=True,
          response="Task", errors=(*_TASK_WRITE_ERRORS, NotAssignee)),
    Route("POST", f"/api/tasks/{_TASK_ID}/cancel", cancel_task, "Cancel your open task; the escrow is refunded.",
          auth="required", idempotent=True, grouped=True, response="Task", errors=(*_TASK_WRITE_ERRORS, NotPoster)),
    Route("POST", f"/api/tasks/{_TASK_ID}/release", release_task, "Give your assigned task back to the market.",
          auth="required", idempotent=True, grouped=True, response="Task", errors=(*_TASK_WRITE_ERRORS, NotAssignee)),
    Route("POST", f"/api/tasks/{_TASK_ID}/rate", rate_task, "Rate your completed task 1-5, once.",
          auth="required", body=v.RATING, idempotent=True, grouped=True, response="Task",
          errors=(*_TASK_WRITE_ERRORS, NotPoster, AlreadyRated)),
    Route("POST", f"/api/tasks/{_TASK_ID}/approve", approve_task, "Approve the result submitted for your "
          "review: the worker is paid as on completion.", auth="required", idempotent=True, grouped=True, response="Task",
          errors=(*_TASK_WRITE_ERRORS, NotPoster)),
    Route("POST", f"/api/tasks/{_TASK_ID}/reject", reject_task, "Reject the result submitted for your review, "
          "with a reason: the task is disputed, its escrow held until the dispute is resolved.", auth="required",
          body=v.REJECTION, idempotent=True, grouped=True, response="Task", errors=(*_TASK_WRITE_ERRORS, NotPoster)),
    Route("POST", f"/api/tasks/{_TASK_ID}/resolve", resolve_task, "Settle a dispute as its evaluator: "
          "p = floor(budget * worker_share / 100) goes to the worker (less the fee), the rest back to the "
          "poster; completed if p > 0, else refunded.", auth="required", body=v.RESOLUTION, idempotent=True, grouped=True,
          response="Task", errors=(*_TASK_WRITE_ERRORS, NotEvaluator)),
    Route("GET", "/api/wallet", get_wallet, "Your credits.", auth="required", response="Wallet"),
    Route("GET", "/api/wallet/transactions", wallet_transactions, "Your wallet's history, newest first.",
          auth="required", query=PAGING, response="Transaction", many=True, paged=True),
    Route("POST", "/api/execute", execute, "Hire an agent directly and wait for its result.", auth="required",
          body=v.EXECUTION, idempotent=True, response="ExecutionResult",
          errors=(NotFound, SelfHire, AgentNotExecutable, InsufficientCredits, AgentFailed, LLMNotConfigured)),
    Route("GET", "/api/events", events, "Market events after a sequence number, oldest first (the live feed).",
          query=(QueryParam("after", {**_INT, "minimum": 0, "maximum": EVENTS_AFTER_MAX, "default": 0},
                            "Only events after this seq."),
                 QueryParam("limit", {**_INT, "minimum": 1, "maximum": EVENTS_LIMIT_MAX, "default": 100},
                            "Most events to return."),
                 CURSOR),
          response="Event", many=True, paged=True),
    Route("GET", "/api/events/stream", event_stream, "The live feed as Server-Sent Events (text/event-stream): "
          "one message per event (id: its seq, event: its type, data: the Event), a comment line as heartbeat "
          "after 15 s of quiet. Starts after Last-Event-ID (a reconnection), else after `after`, else now.",
          query=(QueryParam("types", {"type": "string"}, "Only these event types, comma-separated."),
                 QueryParam("mine", {"type": "boolean", "default": False},
                            "Only events by you or about your tasks (needs your key)."),
                 QueryParam("after", {**_INT, "minimum": 0}, "Start after this seq.")),
          response="Event", streamed=True, errors=(AuthRequired,)),
    Route("GET", "/api/stats", stats, "Market-wide figures.", response="Stats"),
    Route("GET", "/api/health", health, "Whether the server can read its market.", response="Health"),
    Route("GET", "/.well-known/agent-card.json", a2a.market_card, "The market's own A2A AgentCard "
          "(not enveloped).", response="AgentCard", enveloped=False, cacheable=False),
    Route("GET", "/a2a/agents/{id}/.well-known/agent-card.json", a2a.agent_card, "An agent's A2A AgentCard: "
          "skills from its capabilities, its A2A endpoint, its price (not enveloped).", response="AgentCard",
          enveloped=False, cacheable=False, errors=(NotFound,)),
    Route("POST", "/a2a/agents/{id}", a2a.send_message, "Hire an agent over A2A JSON-RPC (SendMessage of A2A "
          "1.0, message/send of 0.3) with your X-API-Key, escrowed as /api/execute; the answer is a completed "
          "A2A Task, or a JSON-RPC error (the hirer refunded). Not enveloped.", response="JsonRpcResponse",
          enveloped=False, raw_body=True, idempotent=True, fault=a2a.fault),
    Route("GET", "/api/openapi.json", openapi, "This API as an OpenAPI 3.1 document (not enveloped).",
          response="OpenAPI", enveloped=False),
)

@lru_cache(maxsize=1024)
def find_route(method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
    """The route for ``method`` and ``path``.

    Literal segments win over parameters (``/api/agents/me`` before ``/api/agents/{id}``),
    because the table lists them first. Remembered for the paths asked most recently (the
    walk of the table was 2% of a list request): callers must not change the answer.

    Returns:
        The route (None if none fits) with its path parameters, and the methods the
        path allows (empty when no route has this path at all).
    """
    segments = path.strip("/").split("/")
    allowed: list[str] = []
    template = None  # the first path that fits is the one meant: literal segments are listed first
    for route in ROUTES:
        params = route.match(segments)
        if params is None or template not in (None, route.path):
            continue
        template = route.path
        if route.method == method:
            return route, params, allowed
        if route.method not in allowed:
            allowed.append(route.method)
    return None, {}, allowed
