"""Per-API-key rate limiting: a token bucket per key, refilled continuously.

The limit is the market setting ``rate_limit_per_minute`` (0 turns it off), read
when the server starts. Turn it on with ``Market(path).configure(rate_limit_per_minute=600)``
and restart the server. Buckets live in the server process.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

from engine.errors import RateLimited

#: Buckets kept before idle (full) ones are dropped, so random keys cannot grow memory without bound.
MAX_BUCKETS = 10_000


class RateLimiter:
    """Allows ``per_minute`` requests per key, in bursts of up to ``per_minute``.

    Args:
        per_minute: requests per key per minute; 0 allows everything.
        clock: monotonic seconds (tests may pass their own).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key digest -> (tokens, at)
        self._lock = threading.Lock()

    def check(self, api_key: str) -> None:
        """Spend one request of ``api_key``'s allowance.

        Raises:
            RateLimited: with ``retry_after`` (whole seconds) when the allowance is spent.
        """
        if not self.per_minute:
            return
        rate = self.per_minute / 60.0
        digest = hashlib.blake2b(api_key.encode(), digest_size=16).digest()
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(digest, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[digest] = (tokens, now)
                retry_after = max(1, math.ceil((1.0 - tokens) / rate))
                raise RateLimited(f"more than {self.per_minute} requests a minute for this API key",
                                  retry_after=retry_after)
            self._buckets[digest] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._drop_full(now, rate)

    def _drop_full(self, now: float, rate: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * rate >= self.per_minute]
        for key in full:
            del self._buckets[key]
