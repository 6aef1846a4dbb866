"""The delivery worker: sends the webhook outbox, signed, with retries (SPEC §7).

One background thread claims due deliveries and sender threads post them concurrently.
On SQLite it claims while this process holds the delivery lease (one process delivers at a
time); on PostgreSQL every node claims at once, each delivery for one node until its claim
runs out (``claim_seconds``), so a killed node's deliveries in flight are sent again by
another node once their claims run out, and everything else goes on at once.
A receiver that hangs or trickles holds up only its own deliveries:

- each attempt has a total deadline (connect, TLS, request and answer together,
  :func:`transport.total_deadline`), not only one per read;
- at most one attempt per agent, and ``per_receiver`` per receiver (scheme, host and
  port of the URL), run at a time, so a few slow receivers cannot take every sender.

Of many processes on one SQLite file, the lease holder also runs the housekeeping sweeps
(``engine.runtime``); on PostgreSQL every node sweeps.
"""

from __future__ import annotations

import email.utils
import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from ..services.outbox import Claim, Outcome
from .signing import signature_headers
from .transport import checked_client, total_deadline

if TYPE_CHECKING:
    from ..market import Market

log = logging.getLogger(__name__)

DEFAULT_BACKOFF_SECONDS = 5.0
MAX_DELAY_SECONDS = 3600.0
GONE = 410
MAX_DRAINED_BYTES = 64 * 1024  # of a receiver's answer, which is otherwise ignored


def retry_delay(attempt: int, base: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential (``base * 2**(attempt-1)``) with jitter over its upper half, never
    sooner than the receiver's ``Retry-After``, at most an hour.
    """
    delay = base * 2 ** (attempt - 1)
    delay = random.uniform(delay / 2, delay)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_DELAY_SECONDS)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class DeliveryWorker:
    """Delivers ``market``'s webhook outbox in background threads until stopped.

    Args:
        market: the market whose file holds the outbox.
        concurrency: sender threads (and so attempts run at once).
        per_receiver: attempts run at once against one receiver (scheme, host and port).
        timeout: seconds one attempt may take in all (connect, TLS, request and answer).
        max_attempts: attempts before a delivery is marked failed.
        backoff: base retry delay in seconds (5 when None; ``Config.webhook_backoff``).
        lease_seconds: how long the delivery lease lasts unless renewed; after a crash,
            another process takes over within this time (SQLite; on PostgreSQL every node claims).
        claim_seconds: how long one attempt's claim lasts; a claim left by a crash is
            retried after it. Defaults to the attempt's whole deadline and 5 s to settle it.
        poll_interval: seconds between looks at the outbox when nothing is due.

    Whether receivers may be private addresses is the market's ``allow_private_urls``.
    """

    def __init__(
        self,
        market: Market,
        *,
        concurrency: int = 16,
        per_receiver: int = 2,
        timeout: float = 10.0,
        max_attempts: int = 8,
        backoff: float | None = None,
        lease_seconds: float = 15.0,
        claim_seconds: float | None = None,
        poll_interval: float = 0.25,
    ) -> None:
        self.market = market
        self.concurrency = concurrency
        self.per_receiver = per_receiver
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = DEFAULT_BACKOFF_SECONDS if backoff is None else backoff
        self.lease_seconds = lease_seconds
        self.claim_seconds = timeout + 5 if claim_seconds is None else claim_seconds
        self.poll_interval = poll_interval
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._outbox = market.outbox
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._claims: queue.Queue[Claim | None] = queue.Queue()
        self._busy_agents: set[str] = set()
        self._busy_receivers: Counter[str] = Counter()
        self._busy_lock = threading.Lock()
        self._lease_until = 0.0
        self._threads: list[threading.Thread] = []
        self._client: httpx.Client | None = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> DeliveryWorker:
        """Start delivering in background threads. Returns self."""
        if self._threads:
            raise RuntimeError("this worker has been started already")
        self._client = checked_client(allow_private=self.market.allow_private_urls,
                                      timeout=self.timeout, max_connections=self.concurrency)
        self._threads = [threading.Thread(target=self._run, name="webhook-claims", daemon=True)]
        self._threads += [threading.Thread(target=self._send_claims, name=f"webhook-sender-{n}", daemon=True)
                          for n in range(self.concurrency)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, grace: float = 1.0) -> None:
        """Stop claiming, give in-flight attempts up to ``grace`` seconds, give up the lease.

        An attempt still running after that (or claimed and not yet started) is abandoned:
        its claim is released, and the delivery is sent by whichever process claims next.
        """
        self._stopping.set()
        self._wake.set()
        for _ in range(self.concurrency):
            self._claims.put(None)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._client is not None and not any(t.is_alive() for t in self._threads):
            self._client.close()
        if self._lease_until:
            try:
                self._outbox.release_claims(self.holder, time.time())
                self._outbox.drop_lease(self.holder)
            except Exception:  # the market may be closing; the lease and claims then just run out
                log.exception("could not give up the webhook delivery lease and claims")
            self._lease_until = 0.0

    def __enter__(self) -> DeliveryWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def is_leader(self) -> bool:
        """Whether this worker holds the delivery lease (and so is the one delivering; on
        PostgreSQL every node holds it)."""
        return self._lease_until > time.time()

    # -- the claiming loop ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before looking, so a sender finishing meanwhile wakes the next look
            try:
                self._tick()
            except Exception:  # a locked or closing database: try again next tick
                log.exception("webhook delivery loop failed; retrying")
            self._wake.wait(self.poll_interval)

    def _tick(self) -> None:
        now = time.time()
        if self._lease_until - now < self.lease_seconds * 2 / 3:
            expires = now + self.lease_seconds
            self._lease_until = expires if self._outbox.take_lease(self.holder, now, expires) else 0.0
        if not self.is_leader:
            return
        with self._busy_lock:
            busy = set(self._busy_agents)
            load = Counter(self._busy_receivers)
        free = self.concurrency - len(busy)
        due = self._outbox.next_due_at()
        if free <= 0 or due is None or due > now:
            return

        def admit(url: str) -> bool:
            receiver = receiver_of(url)
            if load[receiver] >= self.per_receiver:
                return False
            load[receiver] += 1
            return True

        for claim in self._outbox.claim(self.holder, now, free, now + self.claim_seconds, busy, admit):
            with self._busy_lock:
                self._busy_agents.add(claim.agent_id)
                self._busy_receivers[receiver_of(claim.url)] += 1
            self._claims.put(claim)

    # -- sending ----------------------------------------------------------------------
    def _send_claims(self) -> None:
        while True:
            claim = self._claims.get()
            if claim is None or self._stopping.is_set():
                return
            try:
                self._settle(claim, self._attempt(claim))
            except Exception:  # the claim runs out and the delivery is tried again
                log.exception("could not settle webhook delivery %s", claim.delivery_id)
            finally:
                receiver = receiver_of(claim.url)
                with self._busy_lock:
                    self._busy_agents.discard(claim.agent_id)
                    self._busy_receivers[receiver] -= 1
                    if self._busy_receivers[receiver] <= 0:
                        del self._busy_receivers[receiver]
                self._wake.set()

    def _attempt(self, claim: Claim) -> Outcome:
        """POST the delivery once; never raises for anything the receiver does."""
        assert self._client is not None
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-AgentMarket-Event": claim.event,
            **signature_headers(claim.secret, claim.delivery_id, timestamp, claim.payload, claim.previous_secret),
        }
        started = time.monotonic()
        try:
            with total_deadline(self.timeout), \
                    self._client.stream("POST", claim.url, content=claim.payload, headers=headers) as response:
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
                location = response.headers.get("Location", "")
                _drain(response)
        except httpx.TimeoutException:
            return Outcome(None, _ms_since(started), f"no answer within {self.timeout:g} s")
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            return Outcome(None, _ms_since(started), f"{type(exc).__name__}: {exc}")
        latency = _ms_since(started)
        if 200 <= status < 300:
            return Outcome(status, latency)
        if 300 <= status < 400:
            return Outcome(status, latency, f"redirect to {location[:200]!r} not followed", retry_after)
        return Outcome(status, latency, f"HTTP {status}", retry_after)

    def _settle(self, claim: Claim, outcome: Outcome) -> None:
        if outcome.ok:
            self._outbox.delivered(claim, outcome)
        elif outcome.status_code == GONE:
            self._outbox.give_up(claim, outcome, turn_webhook_off=True)
        elif claim.attempt >= self.max_attempts:
            self._outbox.give_up(claim, outcome)
        else:
            self._outbox.retry(claim, outcome, time.time() + retry_delay(claim.attempt, self.backoff, outcome.retry_after))


def receiver_of(url: str) -> str:
    """The receiver a URL's attempts count against: its scheme, host and port."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return url


def _drain(response: httpx.Response) -> None:
    """Read a short answer to its end, so its connection can be used again; give up on a long one."""
    size = 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > MAX_DRAINED_BYTES:
            return


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
