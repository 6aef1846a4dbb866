"""``Idempotency-Key`` on the HTTP side: the header's rules and what makes two requests
the same. Claiming, storing and replaying is the engine's idempotency service
(``market.idempotency``, see ``engine.services.idempotency``)."""

from __future__ import annotations

import hashlib

from engine.errors import ValidationError
from engine.services.idempotency import HEADER, MIN_ANONYMOUS_KEY_LENGTH, Stored

__all__ = ["HEADER", "MAX_KEY_LENGTH", "MIN_ANONYMOUS_KEY_LENGTH", "Stored", "check_key", "fingerprint"]

MAX_KEY_LENGTH = 255


def check_key(key: str) -> str:
    """The key if it is usable: 1–255 visible ASCII characters.

    Raises:
        ValidationError: naming the header.
    """
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError(HEADER, f"{HEADER} must be 1-{MAX_KEY_LENGTH} visible ASCII characters")
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests 'the same request' for one key."""
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()
