"""``Idempotency-Key``: the first response to a key is stored and replayed to retries.

Records live in the market file (table ``idempotency_keys``), scoped per agent, so
retries are safe across threads and across server processes on the same file:
claiming a key is one ``BEGIN IMMEDIATE`` transaction.

- same key, same request: the stored response again (credits moved once);
- same key, another request: 409 ``idempotency_conflict``;
- same key while the first request still runs: 409;
- a first request that never finished (the server was killed mid-way) leaves its key
  claimed: its outcome is unknown, so the key answers 409 rather than risk moving
  credits twice. Records are kept for ``RETENTION`` (at least 24 hours).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine import Market
from engine.errors import IdempotencyConflict, ValidationError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=48)
#: How often one server process deletes expired records.
PURGE_INTERVAL_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Stored:
    """A finished first response, to be sent again."""

    status: int
    body: bytes


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


class IdempotencyKeys:
    """Claims, finishes and replays idempotency keys in ``market``'s file."""

    def __init__(self, market: Market) -> None:
        # The storage layer is the engine's; this is the one place the server reaches it.
        self._store = market._store
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()

    def begin(self, agent_id: str, key: str, fingerprint: str) -> Stored | None:
        """Claim ``key`` for a new request, or find its stored response.

        Returns:
            None when the caller should run the request (and then call :meth:`finish`);
            the stored response when this is a retry of a finished request.

        Raises:
            IdempotencyConflict: another request used the key, or the first is still running.
        """
        now = datetime.now(UTC)
        self._maybe_purge(now)
        with self._store.write() as tx:
            row = tx.idempotency_record(agent_id, key)
            if row is None or row["created_at"] < _stamp(now - RETENTION):
                tx.claim_idempotency_key(agent_id, key, fingerprint, _stamp(now))
                return None
        if row["fingerprint"] != fingerprint:
            raise IdempotencyConflict(f"the {HEADER} was already used for a different request")
        if row["state"] != "done":
            raise IdempotencyConflict(
                f"the first request with this {HEADER} is still running or was interrupted;"
                " check the market before retrying with a new key"
            )
        return Stored(status=row["status_code"], body=row["response"].encode())

    def finish(self, agent_id: str, key: str, status: int, body: bytes) -> None:
        """Store the response to the request that claimed ``key``."""
        with self._store.write() as tx:
            tx.finish_idempotency_key(agent_id, key, status, body.decode())

    def _maybe_purge(self, now: datetime) -> None:
        if time.monotonic() < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            with self._store.write() as tx:
                tx.purge_idempotency_keys(_stamp(now - RETENTION))
        finally:
            self._purge_lock.release()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
