"""The API's JSON shapes of engine records: one definition for the server, the CLI's
``--json`` output and the HTTP client that reads them back."""

from __future__ import annotations

from typing import Any

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


def task(task: Task, viewer_id: str | None = None) -> dict[str, Any]:
    """A task with its timers (``due_at``: when the current one lapses, to count down to); its
    ``result`` and ``dispute`` only for the poster, the assignee and the evaluator."""
    data: dict[str, Any] = {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "budget": task.budget,
        "required_capabilities": list(task.required_capabilities),
        "status": task.status,
        "kind": task.kind,
        "poster_id": task.poster_id,
        "assigned_to": task.assigned_to,
        "escrow": task.escrow,
        "rating": task.rating,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "deadline": task.deadline,
        "claim_seconds": task.claim_seconds,
        "claim_expires_at": task.claim_expires_at,
        "review_hours": task.review_hours,
        "submitted_at": task.submitted_at,
        "review_ends_at": task.review_ends_at,
        "evaluator_id": task.evaluator_id,
        "due_at": task.due_at,
    }
    if viewer_id is not None and viewer_id in (task.poster_id, task.assigned_to, task.evaluator_id):
        data["result"] = task.result
        if task.dispute_reason is not None:
            data["dispute"] = {"reason": task.dispute_reason, "worker_share": task.worker_share,
                               "note": task.resolution_note}
    return data


def wallet(w: Wallet) -> dict[str, Any]:
    return {"agent_id": w.agent_id, "balance": w.balance, "escrowed": w.escrowed, "earned": w.earned,
            "spent": w.spent}


def transaction(t: Transaction) -> dict[str, Any]:
    return {"id": t.id, "kind": t.kind, "amount": t.amount, "balance_after": t.balance_after,
            "task_id": t.task_id, "counterparty": t.counterparty, "created_at": t.created_at, "memo": t.memo}


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
