"""Fixtures every test area shares. Area-specific fixtures live in each folder's conftest."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import Market
from tests.support.postgres import fresh_database, postgres_server


@pytest.fixture
def fixed_clock() -> Callable[[], datetime]:
    """A clock stuck at 2026-03-13 12:00:00 UTC, for stable output."""
    moment = datetime(2026, 3, 13, 12, 0, 0, tzinfo=UTC)
    return lambda: moment


def sequential_ids(prefix: str = "00000000-0000-7000-8000-") -> Callable[[], str]:
    """Ids that read 00000000-0000-7000-8000-000000000001, ...002, ...: stable across runs."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):012d}"


def sequential_tokens() -> Callable[[], str]:
    """64-hex-character 'secrets' that are the same on every run."""
    counter = itertools.count(1)
    return lambda: f"{next(counter):064x}"


@pytest.fixture
def market_path(tmp_path: Path) -> Path:
    return tmp_path / "market.db"


@pytest.fixture
def market(market_path: Path) -> Iterator[Market]:
    """A fresh market on a file (WAL, like production)."""
    m = Market(market_path)
    yield m
    m.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A running PostgreSQL server's URL, shared by the session (see tests/support/postgres.py)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """The URL of an empty PostgreSQL database of this test's own, dropped afterwards."""
    with fresh_database(postgres_server_url) as url:
        yield url
