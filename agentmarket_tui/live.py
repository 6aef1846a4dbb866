"""The app's live signal: the market's newest event seq, kept current by the live event stream.

A daemon thread listens to ``GET /api/events/stream`` (over a socket, or in-process
through the server's own dispatcher) and records the seq of each event; the app compares
it with what it last showed, with no request per look. A server without the stream
(404) turns the feed off for good and the app polls ``GET /api/events`` instead; a
broken stream is reopened after a pause, resuming after the last seq seen.
"""

from __future__ import annotations

import threading

from engine.errors import NotFound

from .client import MarketClient

#: Seconds between two attempts to reopen a broken stream.
RECONNECT_SECONDS = 2.0


class LiveFeed:
    """Follows the market's events in a daemon thread.

    Args:
        client: the market (its key is sent, but the feed is not filtered).
        start: the seq to follow from (the app's current change token).
    """

    def __init__(self, client: MarketClient, start: int) -> None:
        self.client = client
        self.seq = start
        self.available = True  # False once the server is known not to have the stream
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentmarket-live", daemon=True)

    def start(self) -> LiveFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following (the thread ends at its next event, heartbeat or failure)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.connected = True
                for event in self.client.listen(after=self.seq):
                    self.seq = event.seq
                    if self._stop.is_set():
                        return
            except NotFound:
                self.available = False
                return
            except Exception:  # broken, refused, or the client or its in-process market closed meanwhile
                if self._stop.is_set():
                    return
            finally:
                self.connected = False
            self._stop.wait(RECONNECT_SECONDS)
