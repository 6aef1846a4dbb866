"""The API's JSON shapes of engine records: one definition for the server, the CLI's
``--json`` output and the HTTP client that reads them back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .json_text import Json, compact, members_writer
from .records import (
    Agent,
    Delivery,
    Event,
    Invite,
    LedgerReport,
    Registration,
    RegistrationTerms,
    Stats,
    Task,
    Transaction,
    Wallet,
    Webhook,
)


def mask_url(url: str | None) -> str | None:
    """``"..."`` and the URL's last 10 characters, as the seed shows webhook URLs."""
    if not url:
        return None
    return "..." + url[-10:]


def agent_public(agent: Agent) -> dict[str, Any]:
    """What anyone may see of an agent: never its email, key, prompt or URLs."""
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "capabilities": list(agent.capabilities),
        "price_per_task": agent.price_per_task,
        "reputation_score": agent.reputation_score,
        "total_tasks": agent.total_tasks,
        "missed_claims": agent.missed_claims,
        "disputes_lost": agent.disputes_lost,
        "created_at": agent.created_at,
        "hireable": agent.executable,
    }


def agent_private(agent: Agent) -> dict[str, Any]:
    """An agent's own profile, with its private fields (the webhook URL masked)."""
    return {
        **agent_public(agent),
        "owner_email": agent.owner_email,
        "endpoint_url": agent.endpoint_url,
        "system_prompt": agent.system_prompt,
        "webhook_url": mask_url(agent.webhook_url),
        "rating_count": agent.rating_count,
    }


def registration(reg: Registration) -> dict[str, Any]:
    """The registration response's data: the API key (and webhook secret) shown once."""
    data: dict[str, Any] = {
        "id": reg.agent.id,
        "name": reg.agent.name,
        "api_key": reg.api_key,
        "capabilities": list(reg.agent.capabilities),
    }
    if reg.webhook_secret:
        data["webhook_secret"] = reg.webhook_secret
    return data


#: A task's members as the API shows everyone, in order.
TASK_MEMBERS = ("id", "title", "description", "budget", "required_capabilities", "status", "kind", "poster_id",
                "assigned_to", "escrow", "rating", "created_at", "updated_at", "deadline", "claim_seconds",
                "claim_expires_at", "review_hours", "submitted_at", "review_ends_at", "evaluator_id", "due_at")
#: The members only its poster, assignee and evaluator see, after those (then ``dispute``, once it was disputed).
TASK_PRIVATE_MEMBERS = ("result",)
_write_task_members = members_writer(Task, TASK_MEMBERS)
_write_task_private_members = members_writer(Task, TASK_PRIVATE_MEMBERS)


def task(task: Task, viewer_id: str | None = None) -> dict[str, Any]:
    """A task with its timers (``due_at``: when the current one lapses, to count down to); its
    ``result`` and ``dispute`` only for the poster, the assignee and the evaluator."""
    data: dict[str, Any] = {name: getattr(task, name) for name in TASK_MEMBERS}
    data["required_capabilities"] = list(task.required_capabilities)
    if _sees_private(task, viewer_id):
        data.update({name: getattr(task, name) for name in TASK_PRIVATE_MEMBERS})
        dispute = _dispute(task)
        if dispute is not None:
            data["dispute"] = dispute
    return data


def tasks_json(tasks: Iterable[Task], viewer_id: str | None = None) -> Json:
    """``[task(t, viewer_id) for t in tasks]`` as compact JSON text, written without the dicts
    (``json_text``): a list's twenty tasks in half the time."""
    texts = []
    for t in tasks:
        if not _sees_private(t, viewer_id):
            texts.append(f"{{{_write_task_members(t)}}}")
        elif (dispute := _dispute(t)) is None:
            texts.append(f"{{{_write_task_members(t)},{_write_task_private_members(t)}}}")
        else:
            texts.append(f'{{{_write_task_members(t)},{_write_task_private_members(t)},"dispute":{compact(dispute)}}}')
    return Json(f"[{','.join(texts)}]")


def _sees_private(task: Task, viewer_id: str | None) -> bool:
    return viewer_id is not None and viewer_id in (task.poster_id, task.assigned_to, task.evaluator_id)


def _dispute(task: Task) -> dict[str, Any] | None:
    if task.dispute_reason is None:
        return None
    return {"reason": task.dispute_reason, "worker_share": task.worker_share, "note": task.resolution_note}


def wallet(w: Wallet) -> dict[str, Any]:
    return {"agent_id": w.agent_id, "balance": w.balance, "escrowed": w.escrowed, "earned": w.earned,
            "spent": w.spent}


#: A wallet transaction's members, in order.
TRANSACTION_MEMBERS = ("id", "kind", "amount", "balance_after", "task_id", "counterparty", "created_at", "memo")
_write_transaction_members = members_writer(Transaction, TRANSACTION_MEMBERS)


def transaction(t: Transaction) -> dict[str, Any]:
    return {name: getattr(t, name) for name in TRANSACTION_MEMBERS}


def transactions_json(transactions: Iterable[Transaction]) -> Json:
    """``[transaction(t) for t in transactions]`` as compact JSON text, written without the dicts."""
    return Json(f"[{','.join([f'{{{_write_transaction_members(t)}}}' for t in transactions])}]")


def registration_terms(terms: RegistrationTerms) -> dict[str, Any]:
    """What registering takes on this market."""
    return {"requires_invite": terms.requires_invite, "registration_grant": terms.registration_grant}


def invite(i: Invite) -> dict[str, Any]:
    """An invite code's record (never the code: only its hash is kept)."""
    return {"id": i.id, "created_at": i.created_at, "used": i.used_by is not None, "used_by": i.used_by,
            "used_at": i.used_at}


def webhook(w: Webhook) -> dict[str, Any]:
    """The webhook URL masked, its choices; the secret only when it was just set."""
    data: dict[str, Any] = {"webhook_url": mask_url(w.url), "events": list(w.events), "all_tasks": w.all_tasks,
                            "previous_secret_until": w.previous_secret_until}
    if w.secret:
        data["webhook_secret"] = w.secret
    return data


def delivery(d: Delivery) -> dict[str, Any]:
    """One webhook delivery as its agent sees it (never the payload's secret or signature)."""
    return {"id": d.id, "event": d.event, "agent_id": d.agent_id, "task_id": d.task_id, "status": d.status,
            "attempts": d.attempts,
            "last_status_code": d.last_status_code, "last_error": d.last_error, "created_at": d.created_at,
            "updated_at": d.updated_at}


def event(e: Event) -> dict[str, Any]:
    return {"seq": e.seq, "type": e.type, "task_id": e.task_id, "agent_id": e.agent_id,
            "created_at": e.created_at, "data": e.data}


def stats(s: Stats) -> dict[str, Any]:
    return {"agents": s.agents, "tasks": s.tasks, "credits_issued": s.credits_issued,
            "credits_in_wallets": s.credits_in_wallets, "credits_in_escrow": s.credits_in_escrow,
            "fees_collected": s.fees_collected, "transfers": s.transfers}


def ledger_report(r: LedgerReport) -> dict[str, Any]:
    return {"ok": r.ok, "checks": [{"name": c.name, "holds": c.holds, "description": c.description,
                                    "offending": list(c.offending)} for c in r.checks]}
