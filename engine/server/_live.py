"""The live event stream (``GET /api/events/stream``): Server-Sent Events over the market's events.

Each stream reads the events table after its own cursor (the last ``id:`` it sent, or
``Last-Event-ID`` on a reconnection), so nothing is buffered per reader: a reader that
falls behind reads from the database when it catches up, and one whose socket stays
full longer than ``write_timeout`` is dropped by the handler (it reconnects and resumes).

A stream sleeps on a condition that the dispatcher notifies after every write request
in this process; commits by other processes (workers, sweeps, a second server) are
seen by a cheap ``data_version`` look every ``poll_seconds``. At most ``max_streams``
run at once; the next one is refused with 503 and Retry-After.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence

from engine import Market, views
from engine.errors import ServiceUnavailable
from engine.records import Event

#: Events read from the database per look.
BATCH = 200
#: What a browser's EventSource waits before reconnecting, in ms.
RETRY_MS = 2000
#: Yielded after each quiet look: nothing to send, but the sender may check its reader is still there.
TICK = b""


class LiveEvents:
    """The live streams of one dispatcher: their wake-ups and their bound.

    Args:
        market: the market whose events are streamed.
        max_streams: streams open at once; more are refused (503).
        heartbeat_seconds: a comment line is sent after this long without events.
        poll_seconds: how often a stream looks for commits made by other processes.
        write_timeout: seconds one write to a stream's socket may block before the reader
            is dropped (read by the HTTP handler).
    """

    def __init__(self, market: Market, *, max_streams: int = 64, heartbeat_seconds: float = 15.0,
                 poll_seconds: float = 0.25, write_timeout: float = 10.0) -> None:
        self.market = market
        self.max_streams = max_streams
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds
        self.write_timeout = write_timeout
        self._changed = threading.Condition()
        self._generation = 0
        self._open = 0
        self._closed = False

    @property
    def open_streams(self) -> int:
        """How many streams are open now."""
        return self._open

    def notify(self) -> None:
        """Wake every stream: something may have been committed in this process."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self._closed = True
        self.notify()

    def open(self, after: int | None, types: Sequence[str] | None, involving: str | None) -> EventStream:
        """A new stream of the events after ``after`` (None: from now on).

        Raises:
            ServiceUnavailable: ``max_streams`` are open already, or the server is stopping.
        """
        with self._changed:
            if self._closed or self._open >= self.max_streams:
                raise ServiceUnavailable(f"the server is serving its most live streams ({self.max_streams}); "
                                         "retry later", retry_after=5)
            self._open += 1
        try:
            start = self.market.events_feed.newest_seq() if after is None else after
        except BaseException:
            self._release()
            raise
        return EventStream(self, start, tuple(types) if types else None, involving)

    def _release(self) -> None:
        with self._changed:
            self._open -= 1

    def _wait(self, generation: int, seconds: float) -> bool:
        """Sleep up to ``seconds`` unless notified since ``generation``; True if notified."""
        with self._changed:
            if self._generation == generation and not self._closed:
                self._changed.wait(seconds)
            return self._generation != generation


class EventStream:
    """One open stream: an iterator of SSE byte chunks (an empty one, :data:`TICK`, after
    each quiet look, so the sender can notice a reader that left). Close it to free its place."""

    def __init__(self, live: LiveEvents, cursor: int, types: tuple[str, ...] | None, involving: str | None) -> None:
        self._live = live
        self._cursor = cursor
        self._types = types
        self._involving = involving
        self._chunks = self._run()
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        """End the stream (idempotent)."""
        if not self._closed:
            self._closed = True
            self._chunks.close()
            self._live._release()

    def _run(self) -> Iterator[bytes]:
        live, market = self._live, self._live.market
        yield f"retry: {RETRY_MS}\n: stream after seq {self._cursor}\n\n".encode()
        last_sent = time.monotonic()
        version = market.data_version()
        while not live._closed:
            generation = live._generation
            events, self._cursor = market.events_feed.scan(self._cursor, BATCH, self._types, self._involving)
            if events:
                yield b"".join(sse(event) for event in events)
                last_sent = time.monotonic()
                if len(events) == BATCH:
                    continue
            while not live._closed:
                quiet = time.monotonic() - last_sent
                if quiet >= live.heartbeat_seconds:
                    yield b": heartbeat\n\n"
                    last_sent = time.monotonic()
                    continue
                notified = live._wait(generation, min(live.poll_seconds, live.heartbeat_seconds - quiet))
                now_version = market.data_version()
                if notified or now_version != version:
                    version = now_version
                    break
                yield TICK


def sse(event: Event) -> bytes:
    """One event as an SSE message: ``id`` its seq, ``event`` its type, ``data`` its JSON."""
    data = json.dumps(views.event(event), ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n".encode()
