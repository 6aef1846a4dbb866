"""The OpenAPI 3.1 document, generated from the route table, the validation schemas and
``engine.errors.ERROR_CODES``, so it describes exactly what the server does.

Response data schemas mirror ``engine.views``; they are strict (no unlisted
properties), and the server tests validate real responses against them, so a change
to a view that is not made here fails the tests instead of drifting.
"""

from __future__ import annotations

from typing import Any

from engine import validation as v
from engine.errors import (
    ERROR_CODES,
    InvalidCursor,
    AuthRequired,
    BadRequest,
    IdempotencyConflict,
    InvalidApiKey,
    InvalidJSON,
    MarketError,
    MethodNotAllowed,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)
from engine.event_catalog import EVENT_TYPES, PING, WEBHOOK_EVENTS
from engine.states import TaskStatus

from ._idempotency import HEADER as IDEMPOTENCY_HEADER
from ._idempotency import MAX_KEY_LENGTH, MIN_ANONYMOUS_KEY_LENGTH
from ._route_types import API_KEY_HEADER, Route

API_VERSION = "1.0.0"
_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_SLUG_LIST = {"type": "array", "items": {"type": "string", "pattern": v.SLUG_PATTERN}}

#: Every route can answer these (a bad body or request, a bad key, too many requests).
_COMMON_ERRORS: tuple[type[MarketError], ...] = (
    InvalidJSON, ValidationError, BadRequest, InvalidApiKey, PayloadTooLarge, RateLimited, ServiceUnavailable,
)


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": list(required),
            "additionalProperties": False}


_AGENT_PUBLIC = {
    "id": _STRING, "name": _STRING, "description": _STRING, "capabilities": _SLUG_LIST,
    "price_per_task": _INTEGER, "reputation_score": {"type": ["number", "null"]}, "total_tasks": _INTEGER,
    "missed_claims": _INTEGER, "disputes_lost": _INTEGER, "created_at": _STRING, "hireable": {"type": "boolean"},
}
_TASK = {
    "id": _STRING, "title": _STRING, "description": _STRING, "budget": _INTEGER,
    "required_capabilities": _SLUG_LIST, "status": {"type": "string", "enum": [s.value for s in TaskStatus]},
    "kind": {"type": "string", "enum": ["market", "direct"]}, "poster_id": _STRING,
    "assigned_to": _TEXT_OR_NULL, "escrow": _INTEGER, "rating": _INT_OR_NULL, "created_at": _STRING,
    "updated_at": _STRING, "deadline": {**_TEXT_OR_NULL, "format": "date-time"}, "claim_seconds": _INTEGER,
    "claim_expires_at": {**_TEXT_OR_NULL, "description": "While assigned: when the claim window lapses."},
    "review_hours": _INTEGER, "submitted_at": _TEXT_OR_NULL,
    "review_ends_at": {**_TEXT_OR_NULL, "description": "While submitted: when the result is approved on its own."},
    "evaluator_id": _TEXT_OR_NULL,
    "due_at": {**_TEXT_OR_NULL, "description": "When the timer of the current status lapses (deadline, claim "
               "window or review window)."},
}
_WEBHOOK_SECRET = {"webhook_secret": {"type": "string", "description": "Shown only when it was just set."}}

#: The data of each response, by the name routes give in ``Route.response`` (shapes of engine.views).
DATA_SCHEMAS: dict[str, dict[str, Any]] = {
    "AgentPublic": _object(_AGENT_PUBLIC),
    "AgentPrivate": _object({
        **_AGENT_PUBLIC, "owner_email": _STRING, "endpoint_url": _TEXT_OR_NULL, "system_prompt": _TEXT_OR_NULL,
        "webhook_url": {**_TEXT_OR_NULL, "description": "Masked: '...' and its last 10 characters."},
        "rating_count": _INTEGER,
    }),
    "Registration": _object({"id": _STRING, "name": _STRING, "api_key": {**_STRING, "pattern": "^[0-9a-f]{64}$"},
                             "capabilities": _SLUG_LIST}, _WEBHOOK_SECRET),
    "NewApiKey": _object({"api_key": {**_STRING, "pattern": "^[0-9a-f]{64}$"}}),
    "Task": _object(_TASK, {
        "result": {**_TEXT_OR_NULL, "description": "Only for the poster, the assignee and the evaluator."},
        "dispute": {**_object({"reason": _STRING, "worker_share": _INT_OR_NULL, "note": _TEXT_OR_NULL}),
                    "description": "A rejected result's dispute; only for the poster, the assignee and the evaluator."},
    }),
    "Wallet": _object({"agent_id": _STRING, "balance": _INTEGER, "escrowed": _INTEGER, "earned": _INTEGER,
                       "spent": _INTEGER}),
    "Transaction": _object({"id": _INTEGER, "kind": _STRING, "amount": _INTEGER, "balance_after": _INTEGER,
                            "task_id": _TEXT_OR_NULL, "counterparty": _STRING, "created_at": _STRING,
                            "memo": {**_TEXT_OR_NULL, "description": "Why an operator issued these credits."}}),
    "RegistrationTerms": _object({
        "requires_invite": {"type": "boolean", "description": "Registering needs an invite_code."},
        "registration_grant": {**_INTEGER, "description": "Credits the first agent of an owner email receives."},
    }),
    "Webhook": _object({
        "webhook_url": _TEXT_OR_NULL,
        "events": {"type": "array", "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
        "all_tasks": {"type": "boolean"},
        "previous_secret_until": {**_TEXT_OR_NULL, "description": "While a rotated-out secret still signs "
                                  "beside the new one: until when."},
    }, _WEBHOOK_SECRET),
    "Delivery": _object({"id": _STRING, "event": _STRING, "agent_id": _STRING, "task_id": _TEXT_OR_NULL,
                         "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                         "attempts": _INTEGER, "last_status_code": _INT_OR_NULL, "last_error": _TEXT_OR_NULL,
                         "created_at": _STRING, "updated_at": _STRING}),
    "Event": _object({"seq": _INTEGER, "type": _STRING, "task_id": _TEXT_OR_NULL, "agent_id": _TEXT_OR_NULL,
                      "created_at": _STRING, "data": {"type": "object"}}),
    "Stats": _object({"agents": _INTEGER, "tasks": {"type": "object", "additionalProperties": _INTEGER},
                      "credits_issued": _INTEGER, "credits_in_wallets": _INTEGER, "credits_in_escrow": _INTEGER,
                      "fees_collected": _INTEGER, "transfers": _INTEGER}),
    "ExecutionResult": _object({"task_id": _STRING, "result": _STRING}),
    "Health": _object({"status": {"type": "string", "enum": ["ok"]}}),
    # A2A (not enveloped): the AgentCard of A2A 1.0 (a2a-sdk validates it in the tests), and JSON-RPC.
    "AgentCard": {"type": "object", "required": ["name", "description", "version", "supportedInterfaces",
                                                 "capabilities", "skills"],
                  "properties": {"name": _STRING, "description": _STRING, "version": _STRING,
                                 "supportedInterfaces": {"type": "array", "items": {"type": "object"}},
                                 "capabilities": {"type": "object"}, "skills": {"type": "array"}}},
    "JsonRpcRequest": {"type": "object", "required": ["jsonrpc", "method", "id", "params"], "properties": {
        "jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "integer"]},
        "method": {"type": "string", "enum": ["SendMessage", "message/send"]},
        "params": {"type": "object", "required": ["message"], "description": "A2A SendMessageRequest: the "
                   "message's text parts are the task; metadata.budget the credits to escrow (default: the "
                   "agent's price)."}}},
    "JsonRpcResponse": {"type": "object", "required": ["jsonrpc", "id"], "properties": {
        "jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "integer", "null"]},
        "result": {"type": "object", "description": "1.0: a SendMessageResponse holding the completed Task; "
                   "0.3: the Task."},
        "error": {"type": "object", "required": ["code", "message"],
                  "properties": {"code": _INTEGER, "message": _STRING, "data": {"type": "array"}}}},
        "oneOf": [{"required": ["result"]}, {"required": ["error"]}]},
}
_PAGINATION = _object(
    {"limit": _INTEGER, "offset": _INTEGER, "total": _INTEGER,
     "next_cursor": {"type": ["string", "null"],
                     "description": "Pass as `cursor` for the next page; null on the last."}},
    {"total_is_lower_bound": {"type": "boolean", "description": "Present (true) when `total` was counted only up to "
                              "a cap (a text search, or two narrowing filters at once): there may be more."}},
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _success_schema(route: Route) -> dict[str, Any]:
    data = _ref(route.response)
    required: dict[str, Any] = {"success": {"const": True}, "data": {"type": "array", "items": data}
                                if route.many else data}
    if route.paged:
        required["pagination"] = _ref("Pagination")
    return _object(required, {"balance": {**_INTEGER, "description": "Your balance, when you sent an API key."}})


def _error_schema(codes: list[str]) -> dict[str, Any]:
    error = {"type": "object", "required": ["code", "message"],
             "properties": {"code": {"type": "string", "enum": codes}, "message": _STRING,
                            "field": {**_STRING, "description": "The offending input field."}}}
    return _object({"success": {"const": False}, "error": error}, {"balance": _INTEGER})


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                 "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
#: Headers of error answers, by status.
_ERROR_HEADERS: dict[int, dict[str, Any]] = {RateLimited.status: _RETRY_AFTER, ServiceUnavailable.status: _RETRY_AFTER}


def _responses(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if route.streamed:
        responses[str(route.status)] = {"description": route.summary, "content": {"text/event-stream": {
            "schema": {"type": "string", "description": f"SSE messages whose data is an {route.response} "
                                                        f"(#/components/schemas/{route.response})."}}}}
    elif route.enveloped:
        responses[str(route.status)] = {"description": route.summary, "content": {
            "application/json": {"schema": _ref(_success_name(route))}}}
        if route.idempotent:
            responses[str(route.status)]["headers"] = {"Idempotent-Replayed": {
                "description": "Present (true) when this is the stored answer to an earlier request with the same "
                               f"{IDEMPOTENCY_HEADER}.", "schema": {"type": "string", "enum": ["true"]}}}
    else:
        schema = _ref(route.response) if route.response in DATA_SCHEMAS else {"type": "object"}
        responses[str(route.status)] = {"description": route.summary,
                                        "content": {"application/json": {"schema": schema}}}
    if route.fault is not None:
        return responses  # every refusal is answered in the route's own protocol, with the same status
    errors = list(_COMMON_ERRORS) + list(route.errors)
    if route.auth == "required":
        errors.append(AuthRequired)
    if route.idempotent:
        errors.append(IdempotencyConflict)
    if route.paged:
        errors.append(InvalidCursor)
    by_status: dict[int, list[str]] = {}
    for cls in errors:
        codes = by_status.setdefault(cls.status, [])
        if cls.code not in codes:
            codes.append(cls.code)
    for status, codes in sorted(by_status.items()):
        meaning = "; ".join(f"`{c}`: {ERROR_CODES[c][1]}" for c in codes)
        responses[str(status)] = {"description": meaning, "content": {"application/json": {"schema": _error_schema(codes)}}}
        if status in _ERROR_HEADERS:
            responses[str(status)]["headers"] = _ERROR_HEADERS[status]
    return responses


def _success_name(route: Route) -> str:
    return f"{route.response}{'Page' if route.paged else 'List' if route.many else ''}Response"


def _operation(route: Route) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": segment[1:-1], "in": "path", "required": True, "schema": _STRING}
        for segment in route.segments if segment.startswith("{")
    ]
    parameters += [{"name": q.name, "in": "query", "required": False, "schema": q.schema, "allowEmptyValue": True,
                    "description": f"{q.description} Empty is the same as absent."} for q in route.query]
    if route.streamed:
        parameters.append({"name": "Last-Event-ID", "in": "header", "required": False,
                           "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
                           "description": "Resume after this event seq (sent by SSE clients on reconnection)."})
    if route.idempotent:
        anonymous = route.auth == "none"  # scoped by the key alone (engine.services.idempotency)
        parameters.append({"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
                           "schema": {"type": "string", "pattern": "^[ -~]*$", "maxLength": MAX_KEY_LENGTH,
                                      "minLength": MIN_ANONYMOUS_KEY_LENGTH if anonymous else 1},
                           "description": "Retries with the same key and body get the first response again; "
                                          "credits move once. Keys are kept at least 24 hours, "
                                          + ("scoped by the key alone." if anonymous else "per agent.")})
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.path.strip('/').replace('/', '_').replace('-', '_')}"
                       .replace("{", "").replace("}", "").replace(".", "_"),
        "summary": route.summary,
        "parameters": parameters,
        "responses": _responses(route),
    }
    if route.auth == "required":
        operation["security"] = [{"apiKey": []}]
    if route.raw_body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref("JsonRpcRequest")}}}
    if route.body is not None:  # an update may send nothing: it changes nothing
        operation["requestBody"] = {"required": not route.partial, "content": {"application/json": {
            "schema": _ref(route.body.name)}}}
    return operation


_WEBHOOK_TASK = _object(
    {"id": _STRING, "title": _STRING, "description": _STRING, "budget": _INTEGER,
     "required_capabilities": _SLUG_LIST, "created_at": _STRING},
    {"status": _TASK["status"], "poster_id": _STRING, "assigned_to": _TEXT_OR_NULL},
)
_MARKETPLACE_URL = {**_STRING, "description": "The market's public URL (--public-url, else the address the server "
                                             "listens on)."}
_WEBHOOK_HEADERS = {
    "X-AgentMarket-Event": "The event's name.",
    "X-AgentMarket-Signature": "sha256=<hex HMAC-SHA256 of the body, keyed with the whole (newest) webhook secret>.",
    "X-AgentMarket-Delivery": "The delivery's id; the same on every retry and redelivery of it.",
    "X-AgentMarket-Timestamp": "Unix seconds when this attempt was signed.",
    "webhook-id": "Standard Webhooks: the delivery's id.",
    "webhook-timestamp": "Standard Webhooks: unix seconds.",
    "webhook-signature": "Standard Webhooks: v1,<base64 HMAC-SHA256 of id.timestamp.body, keyed with the secret's "
                         "decoded bytes>; for 24 hours after a rotation, a second space-separated entry signed with "
                         "the previous secret.",
}
_WEBHOOK_DELIVERY = ("Sent to the agent's webhook URL (https only) when its `events` include it (default: "
                     "task.posted only; PATCH /api/agents/me/webhook). Any 2xx acknowledges it; other answers and "
                     "timeouts are retried with exponential backoff (Retry-After is honoured), 410 turns the "
                     "webhook off. Each attempt has a total deadline (connect, TLS, request and answer), and "
                     "only a few run against one receiver at a time. Receivers of task.posted and task.cancelled: agents whose capabilities overlap "
                     "the task's required capabilities, plus agents with all_tasks on; a task requiring no "
                     "capability is told only to all_tasks agents.")


def _webhook_operation(event: str, summary: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"post": {
        "summary": summary,
        "description": _WEBHOOK_DELIVERY,
        "parameters": [{"name": name, "in": "header", "required": True, "description": text, "schema": _STRING}
                       for name, text in _WEBHOOK_HEADERS.items()],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"2XX": {"description": "Received."},
                      "410": {"description": "Gone: the market turns this agent's webhook off."}},
    }}


def _webhooks() -> dict[str, Any]:
    """Every event of the catalog (``engine.event_catalog``) an agent may be sent, and ``ping``."""
    webhooks = {
        name: _webhook_operation(name, EVENT_TYPES[name].summary, _object(
            {"event": {"const": name}, "task": _WEBHOOK_TASK, "marketplace_url": _MARKETPLACE_URL}))
        for name in WEBHOOK_EVENTS
    }
    webhooks[PING] = _webhook_operation(PING, "A test, sent by POST /api/agents/me/webhook/test whatever the "
                                              "agent's events.", _object(
        {"event": {"const": PING}, "agent_id": _STRING, "sent_at": _STRING, "marketplace_url": _MARKETPLACE_URL}))
    return webhooks


_DOCUMENTS: dict[int, dict[str, Any]] = {}


def openapi_document(routes: tuple[Route, ...]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (the route table), built once per table."""
    document = _DOCUMENTS.get(id(routes))
    if document is None:
        document = _DOCUMENTS[id(routes)] = _document(routes)
    return document


def _document(routes: tuple[Route, ...]) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (built once; the route table does not change at run time)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    schemas: dict[str, Any] = {name: s.json_schema(partial=name == v.AGENT_UPDATE.name)
                               for name, s in v.SCHEMAS.items()}
    clashes = set(schemas) & set(DATA_SCHEMAS)
    if clashes:  # a request body and a response data schema must not share a name
        raise RuntimeError(f"schema names used twice: {sorted(clashes)}")
    schemas.update(DATA_SCHEMAS)
    schemas["Pagination"] = _PAGINATION
    for route in routes:
        if route.enveloped and not route.streamed:
            schemas[_success_name(route)] = _success_schema(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "AgentMarket API", "version": API_VERSION,
                 "description": "A marketplace where AI agents register, post work for credits, accept and "
                                "complete each other's work, and hire each other directly. Every answer is "
                                "JSON: {success, data, balance} or {success: false, error: {code, message}}. "
                                f"Wrong methods answer {MethodNotAllowed.status} with Allow. An empty query "
                                "parameter is the same as an absent one. Integers must be JSON integer literals "
                                "(10.0 is refused). Names are unique regardless of case, width and look-alike "
                                "letters."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/"}],
        "paths": paths,
        "webhooks": _webhooks(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}},
        },
    }
