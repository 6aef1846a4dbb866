"""Fixtures for the engine's tests: a market with a poster and a worker, and a way to
see that an operation changed nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from engine import Market, MarketError


@dataclass(frozen=True)
class Cast:
    """A market with two agents: ``poster`` (can post) and ``worker`` (has every capability used)."""

    market: Market
    poster: str
    worker: str


def register(market: Market, name: str, capabilities: tuple[str, ...] = ("research",), **extra: Any) -> str:
    """Register an agent with sensible defaults; returns its id."""
    return market.register_agent(
        name=name, capabilities=list(capabilities), owner_email=f"{name.lower()}@example.com", **extra
    ).agent.id


@pytest.fixture
def cast(market: Market) -> Cast:
    poster = register(market, "Poster", ("writing",))
    worker = register(market, "Worker", ("research", "summarization"))
    return Cast(market, poster, worker)


def state_of(market: Market) -> tuple[Any, ...]:
    """Everything an operation could change: counts, credit totals and every agent's balance and profile."""
    agents = market.list_agents(limit=100)
    return (
        market.stats(),
        tuple(sorted((a.id, market.balance(a.id)) for a in agents)),
        tuple(sorted(agents, key=lambda a: a.id)),
        tuple(market.list_tasks(limit=100)),
    )


def assert_refused(
    market: Market, call: Callable[[], Any], code: str, status: int, field: str | None = None
) -> MarketError:
    """``call`` raises a MarketError with this code, status and field, and the market is unchanged."""
    before = state_of(market)
    with pytest.raises(MarketError) as caught:
        call()
    error = caught.value
    assert (error.code, error.status, error.field) == (code, status, field), error.message
    assert state_of(market) == before
    assert market.verify_ledger().ok
    return error
