"""Per-API-key request allowances kept in PostgreSQL, so every node spends from one bucket
per key (SPEC §13): ``rate_limit_per_minute`` holds for the market, not per node.

The same token bucket as the server keeps in memory on SQLite (``engine/server/_ratelimit.py``):
at most ``capacity`` tokens, refilled continuously at ``rate`` a second, one spent per request.
Here it is one row per key in the UNLOGGED table ``rate_buckets`` (migration 11), spent by one
``INSERT ... ON CONFLICT DO UPDATE`` in autocommit: no transaction, no writers' turn, and
concurrent requests for one key queue on its row lock. Time is the database's clock, one for
every node. Buckets idle long enough to be full again are deleted now and then.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ._dialect import translated

_NOW = "extract(epoch FROM clock_timestamp())"
_REFILLED = "LEAST(%(capacity)s, b.tokens + (EXCLUDED.at - b.at) * %(rate)s)"
# Spends a token, or (no row returned) leaves the bucket as it was: the refill is a function of
# (tokens, at, now), so an unchanged row stays right.
_SPEND = (f"INSERT INTO rate_buckets AS b (digest, tokens, at) VALUES (%(digest)s, %(capacity)s - 1, {_NOW})"
          f" ON CONFLICT (digest) DO UPDATE SET tokens = {_REFILLED} - 1, at = EXCLUDED.at"
          f" WHERE {_REFILLED} >= 1 RETURNING tokens")
_TOKENS = (f"SELECT LEAST(%(capacity)s, tokens + ({_NOW} - at) * %(rate)s) FROM rate_buckets"
           " WHERE digest = %(digest)s")
_PRUNE = f"DELETE FROM rate_buckets WHERE at < {_NOW} - %(full_after)s"
#: Seconds between two prunes by one process.
PRUNE_SECONDS = 60.0


class PgRateBuckets:
    """Token buckets in ``rate_buckets`` (:class:`~..repositories.RateBuckets`), over the store's pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._pruned_at = time.monotonic()

    def spend(self, digest: bytes, capacity: float, rate: float) -> float:
        args = {"digest": digest, "capacity": capacity, "rate": rate}
        try:
            with self._pool.connection() as conn:
                if psycopg.Connection.execute(conn, _SPEND, args).fetchone() is not None:
                    self._prune_now_and_then(conn, capacity / rate)
                    return 0.0
                row = psycopg.Connection.execute(conn, _TOKENS, args).fetchone()
        except psycopg.Error as exc:  # PoolTimeout or a lost server: 503, as any operation
            raise translated(exc) from exc
        tokens = capacity if row is None else row[0]
        return max(0.0, (1.0 - tokens) / rate)

    def _prune_now_and_then(self, conn: psycopg.Connection[Any], full_after: float) -> None:
        with self._lock:
            if time.monotonic() - self._pruned_at < PRUNE_SECONDS:
                return
            self._pruned_at = time.monotonic()
        psycopg.Connection.execute(conn, _PRUNE, {"full_after": full_after})
