"""Webhook signatures: the seed's scheme and Standard Webhooks, for senders and receivers.

Every delivery carries both (SPEC §7):

- the seed's ``X-AgentMarket-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body
  bytes, keyed with the secret string as given (what the seed's ``verifySignature`` does);
- Standard Webhooks' ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature:
  v1,<base64>``: HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``, keyed with the
  base64-decoded bytes of the ``whsec_`` secret, so replays can be refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

SECRET_PREFIX = "whsec_"
#: How far a Standard Webhooks timestamp may be from the receiver's clock.
DEFAULT_TOLERANCE_SECONDS = 300


def seed_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>`` keyed with the secret string's UTF-8 bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_seed_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the seed-scheme signature of ``body`` (constant-time compare)."""
    if not header:
        return False
    return hmac.compare_digest(seed_signature(secret, body).encode(), header.strip().encode())


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret, as Standard Webhooks defines them.

    Raises:
        ValueError: the secret is not base64 after its prefix.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret must be 'whsec_' followed by base64") from None


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with :func:`secret_key`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard_signature(
    secret: str,
    message_id: str | None,
    timestamp: str | None,
    body: bytes,
    header: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether any ``v1`` entry of ``header`` signs this id, timestamp and body, and the
    timestamp is within ``tolerance`` seconds of ``now`` (constant-time compare)."""
    if not (message_id and timestamp and header) or not timestamp.isdigit():
        return False
    sent_at = int(timestamp)
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    expected = standard_signature(secret, message_id, sent_at, body).encode()
    candidates = [entry for entry in header.split() if entry.startswith("v1,")]
    # Compare against every entry so the time taken does not depend on which one matched.
    matches = [hmac.compare_digest(expected, entry.encode()) for entry in candidates]
    return any(matches)


def signature_headers(secret: str, delivery_id: str, timestamp: int, body: bytes,
                      previous_secret: str | None = None) -> dict[str, str]:
    """The signing headers of one delivery attempt (both schemes, one timestamp).

    During a secret rotation the seed's header is signed with the new ``secret`` only;
    ``webhook-signature`` carries one ``v1,`` entry per secret, space-separated (as
    Standard Webhooks allows), the new one first.
    """
    signatures = [standard_signature(s, delivery_id, timestamp, body) for s in (secret, previous_secret) if s]
    return {
        "X-AgentMarket-Signature": seed_signature(secret, body),
        "X-AgentMarket-Delivery": delivery_id,
        "X-AgentMarket-Timestamp": str(timestamp),
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
