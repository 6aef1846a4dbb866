"""A market whose clock, ids and secrets all derive from a seed, so a run repeats exactly."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..market import Market

#: Simulated time starts here (any fixed instant would do).
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class SimulatedClock:
    """A clock that only moves when told to: ``advance(seconds)``."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move simulated time forward."""
        self._now += timedelta(seconds=seconds)


class SeededIds:
    """UUIDv7-shaped ids: a counter where v7 keeps its milliseconds (so ids stay ordered,
    which keeps index inserts append-only), then seeded random bits."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ids:{seed}")
        self._count = 0

    def __call__(self) -> str:
        self._count += 1
        value = self._count << 80 | self._rng.getrandbits(80)
        value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
        value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        return str(uuid.UUID(int=value))


def seeded_market(path: str | Path, seed: int, clock: SimulatedClock | None = None) -> Market:
    """A market on ``path`` whose times, ids and API keys follow from ``seed``.

    Args:
        path: the market file, or ``":memory:"``.
        seed: the same seed gives the same ids, keys and times.
        clock: the simulated clock to use (a new one at :data:`EPOCH` by default).

    Returns:
        The market (keep the ``clock`` you pass to move its time).
    """
    tokens = random.Random(f"tokens:{seed}")
    return Market(
        path,
        clock=clock or SimulatedClock(),
        new_id=SeededIds(seed),
        new_token=lambda: f"{tokens.getrandbits(256):064x}",
    )
