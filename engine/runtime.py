"""The composition root: a market with everything a running process owes it.

``open_market`` is how ``serve``, ``tui``, ``demo`` and ``worker`` start. It opens the
market, and (unless told not to) runs beside it the webhook delivery worker and the
housekeeping sweeps: the market's timers, and crash recovery of interrupted direct hires.
It also builds the API's dispatcher, with the running of hired agents wired in,
for the HTTP server and for the in-process transport alike.

This module sits above the engine, the server and the outbound calls; none of them
imports it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config
from .market import Market
from .outbound.agent_calls import CallSettings
from .outbound.deliveries import DeliveryWorker
from .outbound.execution import execute, recover_interrupted_executions
from .records import Task
from .server import Dispatcher, parse_networks

log = logging.getLogger("agentmarket.runtime")


class RunningMarket:
    """A market, its configuration and its background work. Use as a context manager.

    Attributes:
        market: the engine's :class:`~engine.Market`.
        config: the effective configuration (stored settings applied).
    """

    def __init__(self, market: Market, config: Config, *, owns_market: bool) -> None:
        self.market = market
        self.config = config
        self._owns_market = owns_market
        self._delivery: DeliveryWorker | None = None
        self._sweeper: _Sweeper | None = None
        self._dispatcher: Dispatcher | None = None

    # -- what the faces use -----------------------------------------------------------
    def dispatcher(self) -> Dispatcher:
        """The API's request dispatcher over this market (one per running market), with the
        running of direct hires wired in. The HTTP server and the in-process transport both use it."""
        if self._dispatcher is None:
            config = self.config
            self._dispatcher = Dispatcher(self.market, cache_responses=config.response_cache,
                                          hire_runner=self.run_hire,
                                          registrations_per_hour=config.registrations_per_hour,
                                          trusted_proxies=parse_networks(config.trusted_proxies),
                                          max_streams=config.max_streams,
                                          heartbeat_seconds=config.stream_heartbeat_seconds,
                                          cors_origins=config.cors_origins)
        return self._dispatcher

    def call_settings(self) -> CallSettings:
        """How hired agents are called, from this config."""
        return call_settings(self.config)

    def run_hire(self, market: Market, caller_id: str, agent_id: Any, task_description: Any, budget: Any) -> Task:
        """Hire an agent, run it once outside any transaction, and settle (SPEC §6).

        Raises:
            What ``engine.outbound.execute`` raises.
        """
        return execute(market, caller_id, agent_id, task_description, budget, settings=self.call_settings())

    def sweep(self) -> None:
        """One round of housekeeping: apply lapsed timers, recover direct hires a crash
        interrupted. Idempotent, and safe from many processes at once."""
        self.market.sweep()
        recover_interrupted_executions(self.market, self.call_settings())

    def _sweep_if_leader(self) -> None:
        # Of many processes on one file (serve --workers N), the one holding the webhook
        # delivery lease does the housekeeping.
        if self.config.workers == 1 or self._delivery is None or self._delivery.is_leader:
            self.sweep()

    # -- background work --------------------------------------------------------------
    def start_background(self, *, deliver_webhooks: bool = True, sweep: bool = True) -> RunningMarket:
        """Start the delivery worker and the sweeps in background threads. Returns self."""
        if deliver_webhooks and self._delivery is None:
            self._delivery = DeliveryWorker(self.market, backoff=self.config.webhook_backoff).start()
        if sweep and self._sweeper is None:
            self._sweeper = _Sweeper(self._sweep_if_leader, self.config.sweep_seconds)
            self._sweeper.start()
        return self

    def close(self) -> None:
        """Stop the background work, then close the market if this object opened it."""
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        if self._delivery is not None:
            self._delivery.stop()
            self._delivery = None
        if self._owns_market:
            self.market.close()

    def __enter__(self) -> RunningMarket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_market(
    target: str | Path | Market,
    config: Config | None = None,
    *,
    background: bool = True,
    deliver_webhooks: bool = True,
) -> RunningMarket:
    """Open a market for a running process.

    Args:
        target: a SQLite file path (created if missing), ``":memory:"``, or an open Market
            (which the caller keeps and closes).
        config: this process's configuration (from :func:`engine.config.load_config`);
            stored settings fill what it leaves open.
        background: start the sweeps (and, with ``deliver_webhooks``, the delivery worker).
        deliver_webhooks: send the webhook outbox from this process.

    Returns:
        The running market; close it (or use ``with``) to stop its threads.
    """
    owns = not isinstance(target, Market)
    config = config or Config()
    market = Market(target, allow_private_urls=config.allow_private_urls) if owns else target
    try:
        effective = _apply(market, config)
        running = RunningMarket(market, effective, owns_market=owns)
        if background:
            running.start_background(deliver_webhooks=deliver_webhooks)
        return running
    except BaseException:
        if owns:
            market.close()
        raise


def call_settings(config: Config) -> CallSettings:
    """How agents (hired ones, and a worker's ``--prompt``) are called under ``config``."""
    return CallSettings(timeout=config.execution_timeout, model=config.model, api_key=config.anthropic_api_key,
                        base_url=config.anthropic_base_url)


def _apply(market: Market, config: Config) -> Config:
    """Give the market what this process's config decides; return the config in effect."""
    if config.public_url is not None and config.public_url != market.settings.public_url:
        market.configure(public_url=config.public_url)  # stored: webhooks sent by any process name it
    # The process's own choice, never stored (a market handed in keeps what its maker chose, or gets this).
    market.allow_private_urls = market.allow_private_urls or config.allow_private_urls
    return config.with_stored({"public_url": market.public_url})


class _Sweeper:
    """Calls ``job`` every ``seconds`` in a daemon thread until stopped; a failing round is logged."""

    def __init__(self, job: Callable[[], None], seconds: float) -> None:
        self._job = job
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="market-sweeps", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._job()
            except Exception:  # a locked or closing database: the next round tries again
                log.exception("market sweep failed; retrying")
            self._stop.wait(self._seconds)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
