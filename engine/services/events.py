"""The events service: the market's activity, for timelines and live feeds."""

from __future__ import annotations

from collections.abc import Sequence

from ..queries import EventQuery, Page
from ..records import Event
from .context import MarketContext, read_page


class EventService:
    """Reads market events."""

    def __init__(self, ctx: MarketContext) -> None:
        self._ctx = ctx

    def after(self, seq: int = 0, limit: int = 100) -> list[Event]:
        """Events with ``seq`` greater than ``seq``, oldest first (at most 1000)."""
        with self._ctx.store.read() as tx:
            return tx.events.after(seq, max(1, min(limit, 1000)))

    def page(self, query: EventQuery) -> Page[Event]:
        """One page of the events after ``query.after``, oldest first, and how many there are.

        Raises:
            InvalidCursor: the cursor was not issued for this list (the same ``after``).
        """
        return read_page(self._ctx, query, lambda tx: tx.events)

    def recent(self, limit: int = 50) -> list[Event]:
        """The newest events, newest first (at most 1000)."""
        with self._ctx.store.read() as tx:
            return tx.events.latest(max(1, min(limit, 1000)))

    def newest_seq(self) -> int:
        """The newest event's sequence number (0 when there is none)."""
        with self._ctx.store.read() as tx:
            return tx.events.newest_seq()

    def scan(self, seq: int, limit: int, types: Sequence[str] | None = None,
             involving: str | None = None) -> tuple[list[Event], int]:
        """The events after ``seq`` that match, and how far this looked.

        Args:
            types: only these event types (None: every type).
            involving: only events by this agent or about its tasks (posted or assigned).

        Returns:
            Up to ``limit`` matching events, oldest first, and the seq to scan after next
            time (past the events that did not match, so a narrow filter does not rescan them).
        """
        with self._ctx.store.read() as tx:
            events = tx.events.matching(seq, max(1, min(limit, 1000)), types, involving)
            if len(events) == limit:
                return events, events[-1].seq
            return events, max(seq, tx.events.newest_seq())
