"""Webhook signatures: the seed's scheme (GitHub's test vector) and Standard Webhooks."""

from __future__ import annotations

import base64
import time

import pytest
import standardwebhooks

from engine.outbound import (
    seed_signature,
    signature_headers,
    standard_signature,
    verify_seed_signature,
    verify_standard_signature,
)

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = b'{"event":"task.posted","task":{"id":"t1"}}'


def test_seed_scheme_matches_the_published_test_vector():
    assert seed_signature("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_seed_signature_verifies_and_refuses_tampering():
    header = seed_signature(SECRET, BODY)
    assert verify_seed_signature(SECRET, BODY, header)
    assert not verify_seed_signature(SECRET, BODY + b" ", header)
    assert not verify_seed_signature("whsec_other", BODY, header)
    assert not verify_seed_signature(SECRET, BODY, None)


def test_standard_webhooks_library_accepts_our_headers():
    headers = signature_headers(SECRET, "msg_1", int(time.time()), BODY)
    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == {"event": "task.posted", "task": {"id": "t1"}}


def test_our_standard_signature_matches_the_librarys():
    sent_at = int(time.time())
    from datetime import UTC, datetime

    theirs = standardwebhooks.Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(sent_at, UTC), BODY.decode())
    assert standard_signature(SECRET, "msg_1", sent_at, BODY) == theirs


def test_standard_verification_refuses_replays_and_tampering():
    sent_at = 1_700_000_000
    header = standard_signature(SECRET, "msg_1", sent_at, BODY)
    assert verify_standard_signature(SECRET, "msg_1", str(sent_at), BODY, header, now=sent_at + 299)
    assert verify_standard_signature(SECRET, "msg_1", str(sent_at), BODY, "v1,bm9wZQ== " + header, now=sent_at)
    assert not verify_standard_signature(SECRET, "msg_1", str(sent_at), BODY, header, now=sent_at + 301)
    assert not verify_standard_signature(SECRET, "msg_2", str(sent_at), BODY, header, now=sent_at)
    assert not verify_standard_signature(SECRET, "msg_1", str(sent_at), BODY + b"x", header, now=sent_at)
    assert not verify_standard_signature(SECRET, "msg_1", "soon", BODY, header, now=sent_at)


def test_every_attempt_is_signed_with_one_id_and_a_fresh_timestamp():
    first = signature_headers(SECRET, "d1", 1_700_000_000, BODY)
    second = signature_headers(SECRET, "d1", 1_700_000_060, BODY)
    assert first["X-AgentMarket-Delivery"] == first["webhook-id"] == second["webhook-id"] == "d1"
    assert first["X-AgentMarket-Timestamp"] == first["webhook-timestamp"] == "1700000000"
    assert first["X-AgentMarket-Signature"] == second["X-AgentMarket-Signature"]  # the seed signs no time
    assert first["webhook-signature"] != second["webhook-signature"]


def test_a_malformed_secret_is_an_error_not_a_wrong_signature():
    with pytest.raises(ValueError, match="base64"):
        standard_signature("whsec_not base64!", "d1", 0, BODY)
