"""A rotate-key whose answer is lost can be retried safely (issue 12, finding 9)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.support.stores import dump, raw_connection

from .conftest import Api, Clock, assert_error


def test_a_retried_rotation_with_the_same_idempotency_key_gets_the_same_new_key(timed_api: Api) -> None:
    agent = timed_api.register("Rotator")
    headers = {"Idempotency-Key": "rotate-1"}

    first = agent.post("/api/agents/me/rotate-key", headers=headers)  # its answer is "lost"
    retry = agent.post("/api/agents/me/rotate-key", headers=headers)  # sent again, with the old key

    assert first.status_code == retry.status_code == 200, retry.text
    assert retry.json()["data"]["api_key"] == first.json()["data"]["api_key"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    new_key = first.json()["data"]["api_key"]
    me = timed_api.anonymous.get("/api/agents/me", headers={"X-API-Key": new_key})
    assert me.json()["data"]["id"] == agent.id


def test_the_old_key_works_for_the_grace_period_and_then_stops(timed_api: Api, clock: Clock) -> None:
    agent = timed_api.register("Rotator")
    new_key = agent.post("/api/agents/me/rotate-key").json()["data"]["api_key"]

    clock.now += timedelta(seconds=299)
    assert agent.get("/api/wallet").status_code == 200  # the default grace: 5 minutes
    clock.now += timedelta(seconds=2)
    assert_error(agent.get("/api/wallet"), 401, "invalid_api_key")
    assert timed_api.anonymous.get("/api/wallet", headers={"X-API-Key": new_key}).status_code == 200


def test_the_grace_period_is_a_market_setting(timed_api: Api) -> None:
    timed_api.served.market.configure(key_grace_seconds=0)
    agent = timed_api.register("Rotator")
    agent.post("/api/agents/me/rotate-key")
    assert_error(agent.get("/api/wallet"), 401, "invalid_api_key")


def test_the_stored_rotation_answer_is_unreadable_without_the_idempotency_key(timed_api: Api) -> None:
    agent = timed_api.register("Sealed")
    key = "rotate-" + uuid.uuid4().hex
    new_key = agent.post("/api/agents/me/rotate-key", headers={"Idempotency-Key": key}).json()["data"]["api_key"]
    stored = dump(timed_api.served.db)
    assert new_key not in stored and key not in stored


def test_a_record_stored_before_sealing_is_still_replayed(timed_api: Api) -> None:
    agent = timed_api.register("Legacy")
    fingerprinted = agent.post("/api/agents/me/rotate-key", headers={"Idempotency-Key": "probe"})
    assert fingerprinted.status_code == 200
    with raw_connection(timed_api.served.db) as conn:  # as an older version stored it: plain key and answer
        fingerprint, created_at = conn.execute("SELECT fingerprint, created_at FROM idempotency_keys").fetchone()
        conn.execute("INSERT INTO idempotency_keys (agent_id, key, fingerprint, state, status_code, response,"
                     " created_at) VALUES (?, 'old-key', ?, 'done', 200, '{\"old\": true}', ?)",
                     (agent.id, fingerprint, created_at))
    new_agent_key = fingerprinted.json()["data"]["api_key"]
    retry = timed_api.anonymous.post("/api/agents/me/rotate-key",
                                     headers={"X-API-Key": new_agent_key, "Idempotency-Key": "old-key"})
    assert retry.status_code == 200 and retry.json() == {"old": True}
    assert retry.headers["Idempotent-Replayed"] == "true"
