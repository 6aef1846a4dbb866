"""The events service: the market's activity, for timelines and live feeds."""

from __future__ import annotations

from ..records import Event
from .context import MarketContext


class EventService:
    """Reads market events."""

    def __init__(self, ctx: MarketContext) -> None:
        self._ctx = ctx

    def after(self, seq: int = 0, limit: int = 100) -> list[Event]:
        """Events with ``seq`` greater than ``seq``, oldest first (at most 1000)."""
        with self._ctx.store.read() as tx:
            return tx.events.after(seq, max(1, min(limit, 1000)))

    def recent(self, limit: int = 50) -> list[Event]:
        """The newest events, newest first (at most 1000)."""
        with self._ctx.store.read() as tx:
            return tx.events.latest(max(1, min(limit, 1000)))
