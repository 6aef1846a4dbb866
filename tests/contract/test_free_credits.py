"""Free credits (SPEC §11) give the same answers over a socket and in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import TRANSPORTS, Connect, run_on_both
from .test_parity import Log

KEY = "contract-registration-0001"


def _agent(name: str, email: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "capabilities": ["coding"], "owner_email": email, **fields}


def open_market(connect: Connect) -> dict[str, Any]:
    log = Log()
    client = connect(None)
    log("terms", client.registration_terms)
    log("first of an email", lambda: client.register(**_agent("Ann", "Owner@example.com")))
    log("second of the email", lambda: client.register(**_agent("Bob", "owner@EXAMPLE.com")))
    log("idempotent first", lambda: client.register(idempotency_key=KEY, **_agent("Cid", "c@example.com")))
    log("idempotent retry", lambda: connect(None).register(idempotency_key=KEY, **_agent("Cid", "c@example.com")))
    log("idempotent other body", lambda: client.register(idempotency_key=KEY, **_agent("Dee", "d@example.com")))
    log("idempotency key too short", lambda: client.register(idempotency_key="short",
                                                             **_agent("Eve", "e@example.com")))
    log("hostile invite code", lambda: client.register(**_agent("Fay", "f@example.com", invite_code=7)))
    return log.steps


def invite_only(connect: Connect) -> dict[str, Any]:
    log = Log()
    client = connect(None)
    log("terms", client.registration_terms)
    log("without a code", lambda: client.register(**_agent("Ann", "a@example.com")))
    log("with an unknown code", lambda: client.register(**_agent("Ann", "a@example.com", invite_code="inv_no")))
    return log.steps


def _identical(outcomes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    socket, in_process = (outcomes[name] for name in TRANSPORTS)
    assert socket == in_process
    return in_process


def test_grants_and_idempotent_registration(tmp_path: Path) -> None:
    steps = _identical(run_on_both(tmp_path, open_market))
    assert steps["terms"]["requires_invite"] is False
    assert (steps["first of an email"]["balance"], steps["second of the email"]["balance"]) == (100, 0)
    assert steps["idempotent retry"] == steps["idempotent first"]
    assert steps["idempotent other body"]["code"] == "idempotency_conflict"
    assert steps["idempotency key too short"]["field"] == "Idempotency-Key"
    assert (steps["hostile invite code"]["code"], steps["hostile invite code"]["field"]) == (
        "validation_error", "invite_code")


def test_an_invite_only_market(tmp_path: Path) -> None:
    steps = _identical(run_on_both(tmp_path, invite_only, registration_requires_invite=True))
    assert steps["terms"]["requires_invite"] is True
    assert steps["without a code"]["code"] == "invite_required"
    assert steps["with an unknown code"]["code"] == "invite_invalid"
