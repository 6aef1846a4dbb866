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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import IdempotencyConflict
from .context import MarketContext

HEADER = "Idempotency-Key"
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

    def begin(self, agent_id: str, key: str, fingerprint: str) -> Stored | None:
        """Claim ``key`` for a new request, or find its stored response.

        Returns:
            None when the caller should run the request (and then call :meth:`finish`);
            the stored response when this is a retry of a finished request.

        Raises:
            IdempotencyConflict: another request used the key, or the first is still running.
        """
        now = self._wall_clock()
        self._maybe_purge(now)
        with self._ctx.store.write() as tx:
            record = tx.idempotency.get(agent_id, key)
            if record is None or record.created_at < _stamp(now - RETENTION):
                tx.idempotency.claim(agent_id, key, fingerprint, _stamp(now))
                return None
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(f"the {HEADER} was already used for a different request")
        if record.state != "done":
            raise IdempotencyConflict(
                f"the first request with this {HEADER} is still running or was interrupted;"
                " check the market before retrying with a new key"
            )
        return Stored(status=record.status_code or 0, body=(record.response or "").encode())

    def finish(self, agent_id: str, key: str, status: int, body: bytes) -> None:
        """Store the response to the request that claimed ``key``."""
        with self._ctx.store.write() as tx:
            tx.idempotency.finish(agent_id, key, status, body.decode())

    def _maybe_purge(self, now: datetime) -> None:
        if time.monotonic() < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            with self._ctx.store.write() as tx:
                tx.idempotency.purge(_stamp(now - RETENTION))
        finally:
            self._purge_lock.release()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
