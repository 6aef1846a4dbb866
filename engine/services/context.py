"""What every service shares: the store, the clock, the id and token sources, the settings."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import cursors, fees, ids
from ..queries import Page
from ..storage import MarketTx, Store

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Settings:
    """Market-wide settings, stored in the market file.

    ``fee_percent`` and ``registration_grant`` take effect at once in every process: the
    operations that move credits read them in their own transaction. The others are read
    when a Market opens (restart a server to apply a change made elsewhere).

    Attributes:
        fee_percent: the platform's share of a completed task's budget, 0–100.
        registration_grant: credits every new agent receives.
        public_url: the market's public address, sent in webhook payloads; empty: the
            address the server serving it bound (see ``MarketContext.public_url``).
        rate_limit_per_minute: requests per API key per minute for the server; 0 is off.
        default_task_ttl: seconds from posting to a task's deadline when its poster gives none.
        key_grace_seconds: how long an API key keeps working after ``rotate_key`` replaced
            it, so a client that lost the answer can retry; 0 ends it at once.
        registration_requires_invite: registering needs a single-use invite code (read in
            the registration's transaction, so it applies at once everywhere).

    Whether agents' URLs may point at private addresses is not a stored setting: it is
    ``MarketContext.allow_private_urls``, the choice of the process that opened the market.
    """

    fee_percent: int = fees.DEFAULT_FEE_PERCENT
    registration_grant: int = fees.DEFAULT_REGISTRATION_GRANT
    public_url: str = ""
    rate_limit_per_minute: int = 0
    default_task_ttl: int = 7 * 86_400
    key_grace_seconds: int = 300
    registration_requires_invite: bool = False


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def random_token() -> str:
    """64 hex characters of secret randomness."""
    return secrets.token_hex(32)


class MarketContext:
    """The one object the services share.

    Args:
        store: the market's database.
        settings: the settings as this process knows them (``Market.configure`` replaces them).
        clock: returns the current time (UTC).
        new_id: returns a fresh id for agents, tasks and deliveries.
        new_token: returns 64 hex characters of secret randomness.
        allow_private_urls: let agents' URLs point at private or loopback addresses (this
            process only; never stored).

    Attributes:
        public_url: the address webhooks name as ``marketplace_url``: the stored setting,
            else what a server serving this market sets (the address it bound).
    """

    __slots__ = ("store", "settings", "clock", "new_id", "new_token", "allow_private_urls", "public_url",
                 "cursor_secret", "_now_cache", "_moment_cache")

    def __init__(self, store: Store, settings: Settings, *, clock: Clock | None = None,
                 new_id: Callable[[], str] | None = None, new_token: Callable[[], str] | None = None,
                 allow_private_urls: bool = False) -> None:
        self.store = store
        self.settings = settings
        self.allow_private_urls = allow_private_urls
        self.public_url = settings.public_url
        self.clock: Clock = clock or utc_now
        self.new_id = new_id or ids.new_id
        self.new_token = new_token or random_token
        self.cursor_secret = b""  # the market's key for signing cursors; Market sets it from its file
        self._now_cache: tuple[int, str] = (-1, "")
        self._moment_cache: tuple[datetime | None, str] = (None, "")

    def now(self) -> str:
        """The clock's time as stored: ISO 8601 UTC to the second."""
        if self.clock is utc_now:
            # Every operation asks; formatting once per second of the wall clock is enough.
            second = int(time.time())
            cached = self._now_cache
            if cached[0] != second:
                cached = self._now_cache = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
            return cached[1]
        moment = self.clock()
        kept = self._moment_cache
        if kept[0] != moment:  # a simulated clock stands still between its steps: format once per step
            kept = self._moment_cache = (moment, moment.isoformat(timespec="seconds")[:19] + "Z")
        return kept[1]


T = TypeVar("T")


class _Listing(Protocol[T]):
    def page(self, query: Any, after: tuple[Any, ...] | None) -> tuple[list[T], tuple[Any, ...] | None]: ...

    def count(self, query: Any) -> tuple[int, bool]: ...


def read_page(ctx: MarketContext, query: Any, repository: Callable[[MarketTx], _Listing[T]]) -> Page[T]:
    """One page of ``query`` and its total, read from one snapshot, with the cursor of the next.

    Args:
        repository: picks the repository that pages and counts (e.g. ``lambda tx: tx.tasks``).

    Raises:
        InvalidCursor: ``query.cursor`` was not issued for this query by this market.
    """
    after = cursors.decode(ctx.cursor_secret, query)
    with ctx.store.read() as tx:
        listing = repository(tx)
        items, last = listing.page(query, after)
        if after is None and last is None and (items or not query.offset):
            # The page ends the list: its total is what it shows, so nothing is counted (a search
            # without matches would otherwise check every candidate a second time).
            total, lower_bound = query.offset + len(items), False
        else:
            total, lower_bound = listing.count(query)
    if lower_bound and after is None and last is not None:
        # A lower bound is at least what the first page shows, and one more.
        total = max(total, query.offset + len(items) + 1)
    next_cursor = None if last is None else cursors.encode(ctx.cursor_secret, query, last)
    return Page(items, total, query.limit, query.offset, lower_bound, next_cursor)
