"""Fixtures every test area shares. Area-specific fixtures live in each folder's conftest."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import Market
from tests.support.postgres import MarketDatabases, fresh_database, market_template, postgres_server


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


#: The suites whose markets run on both stores (SPEC §13: every test holds on both); the
#: other suites (cli, tui, mcp, simulation, contract) use SQLite only.
BOTH_STORES = ("engine", "server", "outbound")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test of the :data:`BOTH_STORES` suites that opens a market on SQLite and on
    PostgreSQL, unless it is marked ``sqlite_only`` (it is about SQLite's files)."""
    if ("store" in metafunc.fixturenames and Path(str(metafunc.definition.fspath)).parent.name in BOTH_STORES
            and metafunc.definition.get_closest_marker("sqlite_only") is None):
        metafunc.parametrize("store", ["sqlite", "postgres"], indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `-m postgres` selects the PostgreSQL half; `-m "not postgres"` the rest.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store") == "postgres":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    """Which store the test's market is on: "sqlite" (the default) or "postgres"."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def market_path(tmp_path: Path, store: str, request: pytest.FixtureRequest) -> Path | str:
    """Where the test's market lives: a file, or (store "postgres") a fresh database's URL."""
    if store == "postgres":
        return request.getfixturevalue("market_database")
    return tmp_path / "market.db"


@pytest.fixture
def market(market_path: Path | str) -> Iterator[Market]:
    """A fresh market on a file (WAL, like production), or on PostgreSQL."""
    m = Market(market_path)
    yield m
    m.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A running PostgreSQL server's URL, shared by the session (see tests/support/postgres.py)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def _market_databases(postgres_server_url: str) -> Iterator[MarketDatabases]:
    """Databases with the market's schema, copied once from a template and emptied between tests."""
    with market_template(postgres_server_url) as template:
        databases = MarketDatabases(postgres_server_url, template)
        try:
            yield databases
        finally:
            databases.close()


@pytest.fixture
def market_database(_market_databases: MarketDatabases) -> Iterator[str]:
    """The URL of an empty PostgreSQL market database for this test alone (emptied afterwards)."""
    with _market_databases.lend() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """The URL of an empty PostgreSQL database of this test's own, dropped afterwards."""
    with fresh_database(postgres_server_url) as url:
        yield url
