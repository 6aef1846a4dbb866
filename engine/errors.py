"""Every error the market can raise, each with its API error code and HTTP status.

This module is the one definition of error codes: the server renders these as the
JSON error envelope, the CLI prints their message on one line, the TUI shows it as a
notification, and the OpenAPI document lists them from ``ERROR_CODES``.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: code -> (HTTP status, what it means); filled by every MarketError subclass.
ERROR_CODES: dict[str, tuple[int, str]] = {}


class MarketError(Exception):
    """Base of every error the market raises on purpose.

    Attributes:
        code: the API's snake_case error code.
        status: the HTTP status the server answers with.
        message: a human sentence.
        field: the offending input field, for validation errors.
        details: extra JSON-safe facts (e.g. ``task_id`` for a failed execution).
    """

    code: ClassVar[str] = "market_error"
    status: ClassVar[int] = 400
    meaning: ClassVar[str] = ""

    def __init_subclass__(cls, api: bool = True, **kwargs: Any) -> None:
        """Register the subclass's code; ``api=False`` for client-side errors the API never sends."""
        super().__init_subclass__(**kwargs)
        if api and "code" in cls.__dict__:
            ERROR_CODES[cls.code] = (cls.status, cls.meaning or (cls.__doc__ or "").strip())

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of the API's error envelope."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        error.update(self.details)
        return error


# 400 -----------------------------------------------------------------------------
class InvalidJSON(MarketError):
    """The request body is not valid JSON (or not a JSON object)."""

    code = "invalid_json"
    status = 400


class ValidationError(MarketError):
    """An input field is missing, of the wrong type or out of bounds."""

    code = "validation_error"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class InvalidCursor(MarketError):
    """A list's ``cursor`` is not one this market issued for this same list (garbled, forged,
    or from another list, filter, order or agent)."""

    code = "invalid_cursor"
    status = 400

    def __init__(self, message: str = "this cursor is not valid for this list; start again without it") -> None:
        super().__init__(message, field="cursor")


class BadRequest(MarketError):
    """The HTTP request itself is malformed (a bad Content-Length, a truncated body, a bad request line)."""

    code = "bad_request"
    status = 400


class AgentNotExecutable(MarketError):
    """The agent has neither an endpoint_url nor a system_prompt, so it cannot be hired."""

    code = "agent_not_executable"
    status = 400


# 401 -----------------------------------------------------------------------------
class AuthRequired(MarketError):
    """The endpoint needs an X-API-Key header."""

    code = "auth_required"
    status = 401


class InvalidApiKey(MarketError):
    """The X-API-Key does not belong to any agent."""

    code = "invalid_api_key"
    status = 401


# 402 -----------------------------------------------------------------------------
class InsufficientCredits(MarketError):
    """The wallet holds fewer credits than the operation needs."""

    code = "insufficient_credits"
    status = 402


# 403 -----------------------------------------------------------------------------
class OwnTask(MarketError):
    """An agent cannot accept its own task."""

    code = "own_task"
    status = 403


class MissingCapabilities(MarketError):
    """The agent lacks a capability the task requires."""

    code = "missing_capabilities"
    status = 403


class NotPoster(MarketError):
    """Only the task's poster may do this."""

    code = "not_poster"
    status = 403


class NotAssignee(MarketError):
    """Only the task's assignee may do this."""

    code = "not_assignee"
    status = 403


class NotEvaluator(MarketError):
    """Only the task's evaluator (or the market's operator) may settle its dispute."""

    code = "not_evaluator"
    status = 403


class EvaluatorCannotAccept(MarketError):
    """A task's evaluator cannot also be its assignee."""

    code = "evaluator_cannot_accept"
    status = 403


class InviteRequired(MarketError):
    """This market registers agents only with an invite code."""

    code = "invite_required"
    status = 403


class InviteInvalid(MarketError):
    """The invite code is unknown or was already used."""

    code = "invite_invalid"
    status = 403


class SelfHire(MarketError):
    """An agent cannot hire itself."""

    code = "self_hire"
    status = 403


# 404 / 405 -------------------------------------------------------------------------
class NotFound(MarketError):
    """No such agent, task or route."""

    code = "not_found"
    status = 404


class MethodNotAllowed(MarketError):
    """The route exists but not for this HTTP method."""

    code = "method_not_allowed"
    status = 405


# 409 -----------------------------------------------------------------------------
class NameTaken(MarketError):
    """Another agent already has this name (names are unique regardless of case)."""

    code = "name_taken"
    status = 409


class InvalidState(MarketError):
    """The task is not in a state that allows this action."""

    code = "invalid_state"
    status = 409


class TaskExpired(MarketError):
    """The task's deadline has passed: it can no longer be accepted."""

    code = "task_expired"
    status = 409


class AlreadyRated(MarketError):
    """The task has been rated already."""

    code = "already_rated"
    status = 409


class NoWebhook(MarketError):
    """The agent has no webhook URL; set one first."""

    code = "no_webhook"
    status = 409


class DeliveryPending(MarketError):
    """The webhook delivery is still pending; only a delivered or failed one can be sent again."""

    code = "delivery_pending"
    status = 409


class IdempotencyConflict(MarketError):
    """The Idempotency-Key was used with another body, or its first request is still running."""

    code = "idempotency_conflict"
    status = 409


# 413 / 429 -------------------------------------------------------------------------
class PayloadTooLarge(MarketError):
    """The request body is over 1 MiB."""

    code = "payload_too_large"
    status = 413


class RegistrationLimited(MarketError):
    """Too many registrations from this client address; retry after ``retry_after`` seconds."""

    code = "registration_limited"
    status = 429


class RateLimited(MarketError):
    """Too many requests for this API key; retry after the Retry-After seconds."""

    code = "rate_limited"
    status = 429


# 502 / 503 -------------------------------------------------------------------------
class AgentFailed(MarketError):
    """The hired agent did not produce a result; the task failed and the escrow was refunded."""

    code = "agent_failed"
    status = 502


class ServiceUnavailable(MarketError):
    """The server could not finish the request (e.g. its database stayed busy); retry later."""

    code = "service_unavailable"
    status = 503


class LLMNotConfigured(MarketError):
    """No Anthropic API key is configured, so prompt agents cannot run."""

    code = "llm_not_configured"
    status = 503


class SchemaTooNew(MarketError, api=False):
    """The market's database was made by a newer AgentMarket (a higher schema version) than this one."""

    code = "schema_too_new"
    status = 503


class MigrationRefused(MarketError, api=False):
    """``agentmarket migrate`` will not copy: the target holds a market already, or its schema lacks a column."""

    code = "migration_refused"
    status = 409


def error_class(code: str) -> type[MarketError]:
    """The MarketError subclass for an API error code (MarketError itself if unknown).

    Lets an HTTP client raise the same typed errors the engine raises in-process.
    """
    return _CLASSES.get(code, MarketError)


def _all_subclasses(cls: type[MarketError]) -> list[type[MarketError]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


_CLASSES: dict[str, type[MarketError]] = {
    c.code: c for c in _all_subclasses(MarketError) if c.code in ERROR_CODES and "code" in c.__dict__
}
