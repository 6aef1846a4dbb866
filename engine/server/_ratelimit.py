"""Per-API-key rate limiting: a token bucket per key, refilled continuously.

The limit is the market setting ``rate_limit_per_minute`` (0 turns it off), read
when the server starts. Turn it on with ``Market(path).configure(rate_limit_per_minute=600)``
and restart the server. Buckets live in the server process; after :func:`share_across_forks`
(``agentmarket serve --workers N`` calls it before forking), in memory shared by the
processes forked from it, so a key's allowance is one across all of them.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.errors import RateLimited

#: Buckets kept before idle (full) ones are dropped, so random keys cannot grow memory without bound.
MAX_BUCKETS = 10_000
#: Buckets in the table shared across forked processes, and slots probed for one key.
SHARED_SLOTS = 1 << 16
SHARED_PROBES = 8
_SLOT = struct.Struct("<Qdd")  # key fingerprint (0: empty), tokens, at


class _ForkSharedLock:
    """A lock across the processes forked after it was made, and their threads, that a
    process killed while holding it cannot keep: a POSIX record lock on an unlinked file
    (the kernel drops a dead process's locks), taken under a per-process thread lock
    (record locks exclude processes, not threads)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._threads = threading.Lock()

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.lockf(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        fcntl.lockf(self._file, fcntl.LOCK_UN)
        self._threads.release()


class _SharedBuckets:
    """Token buckets in anonymous shared memory, for processes forked after it was made:
    an open-addressed table of (fingerprint, tokens, at); a slot whose bucket is full again is
    free for another key."""

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, SHARED_SLOTS * _SLOT.size)  # MAP_SHARED: forked children see one table
        self.lock = _ForkSharedLock()

    def _slots(self, digest: bytes) -> tuple[int, list[int]]:
        fingerprint = int.from_bytes(digest[:8], "little") or 1
        first = int.from_bytes(digest[8:12], "little") % SHARED_SLOTS
        return fingerprint, [(first + n) % SHARED_SLOTS * _SLOT.size for n in range(SHARED_PROBES)]

    def get(self, digest: bytes, default: tuple[float, float]) -> tuple[float, float]:
        fingerprint, offsets = self._slots(digest)
        for offset in offsets:
            found, tokens, at = _SLOT.unpack_from(self._memory, offset)
            if found == fingerprint:
                return tokens, at
        return default

    def put(self, digest: bytes, value: tuple[float, float], is_idle: Callable[[float, float], bool]) -> None:
        fingerprint, offsets = self._slots(digest)
        chosen = None
        for offset in offsets:
            found, tokens, at = _SLOT.unpack_from(self._memory, offset)
            if found == fingerprint:
                chosen = offset
                break
            if chosen is None and (found == 0 or is_idle(tokens, at)):
                chosen = offset
        # Every probed slot busy with other keys: reuse the first (at worst a key gets a fresh allowance).
        _SLOT.pack_into(self._memory, offsets[0] if chosen is None else chosen, fingerprint, *value)


_shared: _SharedBuckets | None = None


def share_across_forks() -> None:
    """Make every RateLimiter created from now on, in this process and in processes forked
    from it, count in one table shared by them all."""
    global _shared
    if _shared is None:
        _shared = _SharedBuckets()


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
        self._shared = _shared
        self._lock: Any = threading.Lock() if _shared is None else _shared.lock

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
            tokens, at = self._get(digest, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._put(digest, (tokens, now), now, rate)
                retry_after = max(1, math.ceil((1.0 - tokens) / rate))
                raise RateLimited(f"more than {self.per_minute} requests a minute for this API key",
                                  retry_after=retry_after)
            self._put(digest, (tokens - 1.0, now), now, rate)

    def _get(self, digest: bytes, default: tuple[float, float]) -> tuple[float, float]:
        if self._shared is not None:
            return self._shared.get(digest, default)
        return self._buckets.get(digest, default)

    def _put(self, digest: bytes, value: tuple[float, float], now: float, rate: float) -> None:
        if self._shared is not None:
            self._shared.put(digest, value, lambda tokens, at: tokens + (now - at) * rate >= self.per_minute)
            return
        self._buckets[digest] = value
        if len(self._buckets) > MAX_BUCKETS:
            self._drop_full(now, rate)

    def _drop_full(self, now: float, rate: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * rate >= self.per_minute]
        for key in full:
            del self._buckets[key]
