"""A2A JSON-RPC at ``/a2a/agents/{id}``: a message sent to an agent hires it (SPEC §14).

``SendMessage`` (A2A 1.0, as ``a2a-sdk`` 1.x's client sends it) and ``message/send``
(A2A 0.3) both run the same hire as ``POST /api/execute``: the caller (its ``X-API-Key``)
escrows a budget, the agent runs once, and the answer is a completed A2A ``Task`` whose
artifact is the result. The budget is the message's ``metadata.budget`` (or the request's),
else the agent's price.

Every failure is a JSON-RPC error object with HTTP 200 (as JSON-RPC over HTTP and the SDK's
client expect), never the market's envelope: bad JSON -32700; not a JSON-RPC 2.0 request
-32600; an unknown method -32601; missing or invalid params (validation included) -32602;
non-text parts -32005; any other refusal of the market (no key, not found, too few credits,
the agent failed and the hirer was refunded, ...) -32000. The error's ``data`` is a
``google.rpc.ErrorInfo`` whose metadata carries the market's error ``code`` (and ``task_id``).
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import (
    BadRequest,
    InvalidJSON,
    MarketError,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationError,
)
from engine.records import Task

from . import _a2a_cards as cards
from ._route_types import Call, Reply

#: JSON-RPC method -> the A2A version whose shapes it uses.
METHODS = {"SendMessage": "1.0", "message/send": "0.3"}
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
CONTENT_TYPE_NOT_SUPPORTED, MARKET_REFUSAL, INTERNAL_ERROR = -32005, -32000, -32603
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_PARAM_ERRORS = (ValidationError, InvalidJSON, BadRequest)
MAX_PARTS = 100


class RpcError(Exception):
    """A JSON-RPC error of the request itself (before the market is asked)."""

    def __init__(self, code: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


# -- route handlers -------------------------------------------------------------------------------
def market_card(call: Call) -> Reply:
    return Reply(cards.market_card(_base(call)))


def agent_card(call: Call) -> Reply:
    return Reply(cards.agent_card(call.market.get_agent(call.path["id"]), _base(call)))


def send_message(call: Call) -> Reply:
    """Answer one JSON-RPC request to an agent's A2A endpoint (never raises)."""
    request_id: Any = None
    try:
        request = _request(call.raw)
        request_id = request["id"]
        version = METHODS.get(request["method"])
        if version is None:
            raise RpcError(METHOD_NOT_FOUND, f"unknown method {str(request['method'])[:100]!r}; this endpoint "
                           f"speaks {', '.join(METHODS)}", "METHOD_NOT_FOUND")
        text, metadata, context_id = _message(request.get("params"), version)
        caller = call.me
        agent = call.market.get_agent(call.path["id"])
        budget = _whole(metadata.get("budget", max(agent.price_per_task, 1)))
        if call.hire_runner is None:
            raise ServiceUnavailable("hiring is not available on this server")
        task = call.hire_runner(call.market, caller.id, agent.id, text, budget)
        return Reply({"jsonrpc": "2.0", "id": request_id, "result": _result(task, context_id, version)})
    except RpcError as exc:
        return Reply(_error(request_id, exc.code, exc.message, {"reason": exc.reason}))
    except MarketError as exc:
        return Reply(_market_error(request_id, exc))


def fault(exc: MarketError) -> Reply:
    """A refusal met before the request was read (bad key, rate limit, oversize body), as JSON-RPC."""
    if isinstance(exc, PayloadTooLarge):
        return Reply(_error(None, INVALID_REQUEST, exc.message, {"reason": "PAYLOAD_TOO_LARGE", "code": exc.code}))
    return Reply(_market_error(None, exc))


# -- reading the request ---------------------------------------------------------------------------
def _request(raw: bytes) -> dict[str, Any]:
    """The JSON-RPC 2.0 request object in ``raw``. Raises RpcError (-32700, -32600)."""
    try:
        request = json.loads(raw, parse_constant=_refuse_constant)
        if b"\\u" in raw:
            json.dumps(request, ensure_ascii=False).encode()  # a lone surrogate ("\ud800") is not text
    except (ValueError, RecursionError, UnicodeError):
        raise RpcError(PARSE_ERROR, "the request body is not valid JSON", "PARSE_ERROR") from None
    if not isinstance(request, dict):
        raise RpcError(INVALID_REQUEST, "the request must be one JSON-RPC request object (no batches)",
                       "INVALID_REQUEST")
    if request.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "jsonrpc must be \"2.0\"", "INVALID_REQUEST")
    if not isinstance(request.get("method"), str):
        raise RpcError(INVALID_REQUEST, "method must be a string", "INVALID_REQUEST")
    request_id = request.get("id")
    if request_id is None or isinstance(request_id, bool) or not isinstance(request_id, str | int):
        raise RpcError(INVALID_REQUEST, "id must be a string or an integer (notifications are not accepted)",
                       "INVALID_REQUEST")
    return request


def _message(params: Any, version: str) -> tuple[str, dict[str, Any], str | None]:
    """The text to hire with, the metadata (budget) and the context id of a send-message request.

    Raises:
        RpcError: -32602 for a missing or malformed message, -32005 for a part that is not text.
    """
    if not isinstance(params, dict) or not isinstance(params.get("message"), dict):
        raise _invalid("params.message must be an object")
    message = params["message"]
    parts = message.get("parts")
    if not isinstance(parts, list) or not parts:
        raise _invalid("params.message.parts must be a non-empty list")
    if len(parts) > MAX_PARTS:
        raise _invalid(f"params.message.parts must have at most {MAX_PARTS} parts")
    texts = [_text(part, version) for part in parts]
    metadata: dict[str, Any] = {}
    for source in (params.get("metadata"), message.get("metadata")):  # the message's own wins
        if source is not None and not isinstance(source, dict):
            raise _invalid("metadata must be an object")
        metadata.update(source or {})
    context_id = message.get("contextId")
    return "\n".join(texts), metadata, context_id if isinstance(context_id, str) and context_id else None


def _text(part: Any, version: str) -> str:
    if not isinstance(part, dict):
        raise _invalid("each part must be an object")
    is_text = part.get("kind") == "text" if version == "0.3" else "text" in part
    if not is_text:
        raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, "only text parts are accepted: send the task as text",
                       "CONTENT_TYPE_NOT_SUPPORTED")
    if not isinstance(part.get("text"), str):
        raise _invalid("a text part's text must be a string")
    return part["text"]


def _whole(value: Any) -> Any:
    """A budget as an integer when it is a whole number: A2A metadata is a protobuf Struct, whose
    numbers are all doubles (30 arrives as 30.0). Anything else is left for validation to refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _invalid(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message, "INVALID_PARAMS")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -- writing the answer -----------------------------------------------------------------------------
def _result(task: Task, context_id: str | None, version: str) -> dict[str, Any]:
    """The completed hire as an A2A Task (wrapped in a SendMessageResponse for 1.0)."""
    text_part: dict[str, Any] = {"kind": "text", "text": task.result} if version == "0.3" else {
        "text": task.result, "mediaType": "text/plain"}
    a2a_task: dict[str, Any] = {
        "id": task.id,
        "contextId": context_id or task.id,
        "status": {"state": "completed" if version == "0.3" else "TASK_STATE_COMPLETED",
                   "timestamp": task.updated_at},
        "artifacts": [{"artifactId": f"{task.id}-result", "name": "result", "parts": [text_part]}],
        "metadata": {"task_id": task.id, "agent_id": task.assigned_to, "budget": task.budget},
    }
    if version == "0.3":
        return {"kind": "task", **a2a_task}
    return {"task": a2a_task}


def _error(request_id: Any, code: int, message: str, info: dict[str, Any]) -> dict[str, Any]:
    metadata = {key: str(value) for key, value in info.items() if key != "reason" and value is not None}
    data = [{"@type": _ERROR_INFO, "reason": info["reason"], "domain": "agentmarket", "metadata": metadata}]
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message, "data": data}}


def _market_error(request_id: Any, exc: MarketError) -> dict[str, Any]:
    """A refusal of the market as a JSON-RPC error naming its code (``[agent_failed]``)."""
    if isinstance(exc, _PARAM_ERRORS):
        code = INVALID_PARAMS
    elif isinstance(exc, ServiceUnavailable):
        code = INTERNAL_ERROR
    else:
        code = MARKET_REFUSAL
    details = exc.to_dict()
    return _error(request_id, code, f"{exc.message} [{exc.code}]",
                  {"reason": exc.code.upper(), "http_status": exc.status, **details})


def _base(call: Call) -> str:
    return cards.base_url(call.headers, call.market.settings.public_url)
