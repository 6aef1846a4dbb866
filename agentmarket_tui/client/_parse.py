"""The API's JSON (``engine.views`` shapes) back into the engine's records and typed errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import MarketError, error_class
from engine.records import Agent, Delivery, Event, RegistrationTerms, Stats, Task, Transaction, Wallet, Webhook

from ._errors import ConnectionFailed


@dataclass(frozen=True, slots=True)
class AgentProfile(Agent):
    """An Agent as the API shows it: whether it can be hired is told (``hireable``), since the
    fields it derives from (endpoint, prompt) are private to the agent itself."""

    hireable: bool = False

    @property
    def executable(self) -> bool:
        """Whether the agent can be hired directly, as the server said."""
        return self.hireable


def agent_from(data: dict[str, Any]) -> Agent:
    """An Agent from ``views.agent_public`` or ``views.agent_private`` (private fields may be absent)."""
    return AgentProfile(
        id=data["id"], name=data["name"], description=data.get("description", ""),
        capabilities=tuple(data.get("capabilities", ())), price_per_task=data.get("price_per_task", 0),
        owner_email=data.get("owner_email", ""), endpoint_url=data.get("endpoint_url"),
        system_prompt=data.get("system_prompt"), webhook_url=data.get("webhook_url"),
        reputation_score=data.get("reputation_score"), rating_count=data.get("rating_count", 0),
        total_tasks=data.get("total_tasks", 0), created_at=data.get("created_at", ""),
        missed_claims=data.get("missed_claims", 0), disputes_lost=data.get("disputes_lost", 0),
        hireable=bool(data.get("hireable")),
    )


def task_from(data: dict[str, Any]) -> Task:
    """A Task from ``views.task`` (``result`` and ``dispute`` are absent for viewers who may not see them)."""
    dispute = data.get("dispute") or {}
    return Task(
        id=data["id"], title=data["title"], description=data.get("description", ""), budget=data["budget"],
        required_capabilities=tuple(data.get("required_capabilities", ())), status=data["status"],
        kind=data.get("kind", "market"), poster_id=data.get("poster_id", ""), assigned_to=data.get("assigned_to"),
        result=data.get("result"), rating=data.get("rating"), escrow=data.get("escrow", 0),
        created_at=data.get("created_at", ""), updated_at=data.get("updated_at", ""),
        deadline=data.get("deadline"), claim_seconds=data.get("claim_seconds", 86_400),
        review_hours=data.get("review_hours", 0), evaluator_id=data.get("evaluator_id"),
        claim_expires_at=data.get("claim_expires_at"), submitted_at=data.get("submitted_at"),
        review_ends_at=data.get("review_ends_at"), dispute_reason=dispute.get("reason"),
        worker_share=dispute.get("worker_share"), resolution_note=dispute.get("note"),
    )


def event_from(data: dict[str, Any]) -> Event:
    """An Event from ``views.event``."""
    return Event(seq=data["seq"], type=data["type"], task_id=data.get("task_id"), agent_id=data.get("agent_id"),
                 created_at=data.get("created_at", ""), data=data.get("data") or {})


def delivery_from(data: dict[str, Any]) -> Delivery:
    """A Delivery from ``views.delivery``."""
    return Delivery(
        id=data["id"], event=data["event"], agent_id=data.get("agent_id", ""), task_id=data.get("task_id"),
        status=data["status"], attempts=data.get("attempts", 0), last_status_code=data.get("last_status_code"),
        last_error=data.get("last_error"), created_at=data.get("created_at", ""),
        updated_at=data.get("updated_at", ""),
    )


def webhook_from(data: dict[str, Any], agent_id: str) -> Webhook:
    return Webhook(agent_id=agent_id, url=data.get("webhook_url"), secret=data.get("webhook_secret"),
                   events=tuple(data.get("events", ("task.posted",))), all_tasks=bool(data.get("all_tasks")),
                   previous_secret_until=data.get("previous_secret_until"))


def wallet_from(data: dict[str, Any]) -> Wallet:
    """A Wallet from ``views.wallet``."""
    return Wallet(agent_id=data["agent_id"], balance=data["balance"], escrowed=data.get("escrowed", 0),
                  earned=data.get("earned", 0), spent=data.get("spent", 0))


def transaction_from(data: dict[str, Any]) -> Transaction:
    """A Transaction from ``views.transaction``."""
    return Transaction(**data)


def registration_terms_from(data: dict[str, Any]) -> RegistrationTerms:
    """RegistrationTerms from ``views.registration_terms``."""
    return RegistrationTerms(**data)


def stats_from(data: dict[str, Any]) -> Stats:
    """Stats from ``views.stats``."""
    return Stats(**data)


def sse_messages(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each Server-Sent Events message in ``lines`` (comments and other fields skipped)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def error_from(error: Any, status: int) -> MarketError:
    """The typed MarketError an error envelope's ``error`` stands for."""
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
