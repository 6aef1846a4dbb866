"""The idempotency service: the first response to an ``Idempotency-Key`` is stored and
replayed to retries.

Records live in the market file, scoped per agent, so retries are safe across threads and
across server processes on the same file: claiming a key is one write transaction.

- same key, same request: the stored response again (credits moved once);
- same key, another request: ``IdempotencyConflict``;
- same key while the first request still runs: ``IdempotencyConflict``;
- a first request that never finished (the server was killed mid-way) leaves its key
  claimed: its outcome is unknown, so the key answers a conflict rather than risk moving
  credits twice. Records are kept for ``RETENTION`` (at least 24 hours).

Registration has no caller, so its keys are scoped by the key alone (``agent_id`` None): a
client whose address changed between the attempt and the retry (mobile networks, pools of
egress addresses) still gets its first answer. Such a key must be at least
``MIN_ANONYMOUS_KEY_LENGTH`` characters (a UUID is 36), since knowing it (and the body) is
what entitles a caller to the replay, which carries the new agent's API key.

The market file never holds a stored answer readable, whoever the caller: answers to
registration and to rotate-key carry API keys. Every record is stored under a hash of its
Idempotency-Key, and its response is sealed (Fernet: AES-128-CBC + HMAC-SHA256) with a key
derived from the Idempotency-Key itself, which is never stored, so only a caller presenting
the key can open it. (Records written before sealing, under a caller's plain key with a plain
response, are still found and replayed until they expire.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken

from ..errors import IdempotencyConflict, ValidationError
from .context import MarketContext

HEADER = "Idempotency-Key"
#: The scope of keys sent without an API key (registration).
ANONYMOUS = "-anonymous"
MIN_ANONYMOUS_KEY_LENGTH = 16
RETENTION = timedelta(hours=48)
#: How often one process deletes expired records.
PURGE_INTERVAL_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Stored:
    """A finished first response, to be sent again."""

    status: int
    body: bytes


class IdempotencyService:
    """Claims, finishes and replays idempotency keys.

    Args:
        wall_clock: the time records are stamped with; the wall clock (not the market's,
            which tests fix), since retention is about real retries.
    """

    def __init__(self, ctx: MarketContext, wall_clock: Callable[[], datetime] | None = None) -> None:
        self._ctx = ctx
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()

    def begin(self, agent_id: str | None, key: str, fingerprint: str) -> Stored | None:
        """Claim ``key`` for a new request, or find its stored response.

        Args:
            agent_id: the caller, or None for a request without one (scoped by the key alone).

        Returns:
            None when the caller should run the request (and then call :meth:`finish`);
            the stored response when this is a retry of a finished request.

        Raises:
            IdempotencyConflict: another request used the key, or the first is still running.
            ValidationError: a key without a caller shorter than ``MIN_ANONYMOUS_KEY_LENGTH``.
        """
        now = self._wall_clock()
        self._maybe_purge(now)
        scope, stored_key = _where(agent_id, key)
        sealed = True
        with self._ctx.store.write() as tx:
            record = tx.idempotency.get(scope, stored_key)
            if record is None and agent_id is not None:
                record, sealed = tx.idempotency.get(agent_id, key), False  # written before sealing
            if record is None or record.created_at < _stamp(now - RETENTION):
                tx.idempotency.claim(scope, stored_key, fingerprint, _stamp(now))
                return None
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(f"the {HEADER} was already used for a different request")
        if record.state != "done":
            raise IdempotencyConflict(
                f"the first request with this {HEADER} is still running or was interrupted;"
                " check the market before retrying with a new key"
            )
        response = record.response or ""
        return Stored(status=record.status_code or 0, body=_unseal(key, response) if sealed else response.encode())

    def finish(self, agent_id: str | None, key: str, status: int, body: bytes) -> None:
        """Store the response to the request that claimed ``key``, sealed (see the module's docstring)."""
        scope, stored_key = _where(agent_id, key)
        with self._ctx.store.write() as tx:
            tx.idempotency.finish(scope, stored_key, status, _seal(key, body))

    def release(self, agent_id: str | None, key: str) -> None:
        """Forget the claim on ``key`` of a request that was refused before it ran (a limit)."""
        scope, stored_key = _where(agent_id, key)
        with self._ctx.store.write() as tx:
            tx.idempotency.release(scope, stored_key)

    def _maybe_purge(self, now: datetime) -> None:
        if time.monotonic() < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            with self._ctx.store.write() as tx:
                tx.idempotency.purge(_stamp(now - RETENTION))
        finally:
            self._purge_lock.release()


def _where(agent_id: str | None, key: str) -> tuple[str, str]:
    """The record's (scope, key) columns: the caller (or ``ANONYMOUS``) and a hash of the key."""
    if agent_id is None and len(key) < MIN_ANONYMOUS_KEY_LENGTH:
        raise ValidationError(HEADER, f"an {HEADER} sent without an API key must be at least"
                                      f" {MIN_ANONYMOUS_KEY_LENGTH} characters (a UUID, say)")
    return agent_id or ANONYMOUS, hashlib.sha256(key.encode()).hexdigest()


def _fernet(key: str) -> Fernet:
    digest = hmac.new(key.encode(), b"agentmarket: sealed idempotent response", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _seal(key: str, body: bytes) -> str:
    return _fernet(key).encrypt(body).decode()


def _unseal(key: str, sealed: str) -> bytes:
    try:
        return _fernet(key).decrypt(sealed.encode())
    except InvalidToken:  # only if the stored record was altered: refuse rather than guess
        raise IdempotencyConflict(f"the stored response to this {HEADER} cannot be read; use a new key") from None


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
