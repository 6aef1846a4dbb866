"""What only the PostgreSQL store has: clear failures for a database that is wrong or away,
recovery when it returns, and the guarantees its schema enforces (SPEC §13)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from click.testing import CliRunner

from agentmarket_tui.cli import main
from engine import Market
from engine.errors import SchemaTooNew
from engine.storage.postgres.schema import SCHEMA_VERSION
from tests.support.postgres import database_url
from tests.support.server import running_server

pytestmark = pytest.mark.postgres


def _one_line_failure(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://postgres@127.0.0.1:1/market", "Connection refused"),
    ("postgresql://postgres@127.0.0.1:notaport/market", "notaport"),
    ("postgres://%zz@/", "percent"),
])
def test_a_bad_or_unreachable_url_is_one_line_and_exit_1(url: str, says: str) -> None:
    line = _one_line_failure("ledger", "verify", "--db", url)
    assert line.startswith("Error: cannot open the market at ") and says in line, line


def test_a_missing_database_and_a_wrong_password_are_one_line_without_the_password(
        postgres_server_url: str) -> None:
    line = _one_line_failure("ledger", "verify", "--db", database_url(postgres_server_url, "no_such_market"))
    assert "no_such_market" in line and "does not exist" in line
    with_password = postgres_server_url.replace("postgres@", "nobody:hunter2@", 1)
    line = _one_line_failure("ledger", "verify", "--db", with_password)
    assert "hunter2" not in line and "***" in line


def test_serve_on_an_unreachable_server_is_one_line_and_exit_1() -> None:
    line = _one_line_failure("serve", "--db", "postgresql://postgres@127.0.0.1:1/market", "--port", "0")
    assert "cannot open the market" in line


def test_a_database_of_a_newer_schema_is_refused_in_one_line(market_database: str) -> None:
    Market(market_database).close()
    with psycopg.connect(market_database, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    line = _one_line_failure("ledger", "verify", "--db", market_database)
    assert f"schema version {SCHEMA_VERSION + 1}" in line and "upgrade AgentMarket" in line
    with pytest.raises(SchemaTooNew):
        Market(market_database)


def test_without_the_postgres_extra_a_url_says_what_to_install() -> None:
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from agentmarket_tui.cli import main\n"
            "main(['ledger', 'verify', '--db', 'postgresql://postgres@127.0.0.1:1/market'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "pip install 'agentmarket[postgres]'" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def unplugged(market_database: str, postgres_server_url: str) -> Iterator[tuple[str, object]]:
    """The market's database, and a switch that makes it unreachable (True) or back (False)."""
    name = market_database.rpartition("/")[2]

    def switch(away: bool) -> None:
        with psycopg.connect(postgres_server_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if away else "true"}')
            if away:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    try:
        yield market_database, switch
    finally:
        switch(False)


def test_losing_the_database_mid_run_is_503_and_the_node_recovers_by_itself(unplugged: tuple[str, object]) -> None:
    db, switch = unplugged
    with running_server(db) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        key = http.post("/api/agents/register", json={"name": "Poster", "capabilities": ["coding"],
                                                       "owner_email": "p@example.com"}).json()["data"]["api_key"]
        task = {"title": "Survive an outage", "budget": 5, "required_capabilities": ["coding"]}
        assert http.post("/api/tasks", json=task, headers={"X-API-Key": key}).status_code == 201
        switch(True)  # type: ignore[operator]
        for _ in range(2):  # every pooled connection is dead now, and no new one can be made
            refused = http.post("/api/tasks", json=task, headers={"X-API-Key": key})
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "service_unavailable"
        assert http.get("/api/health").status_code == 503
        switch(False)  # type: ignore[operator]
        recovered = None
        for _ in range(40):  # the pool reconnects in the background; no restart, no operator
            recovered = http.post("/api/tasks", json=task, headers={"X-API-Key": key})
            if recovered.status_code == 201:
                break
        assert recovered is not None and recovered.status_code == 201, recovered.text
        assert http.get("/api/health").status_code == 200
        assert served.market.verify_ledger().ok
        assert served.market.stats().tasks == {"open": 2}


@contextmanager
def _migrated_to(postgres_url: str, version: int) -> Iterator[psycopg.Connection]:
    """A connection to the database, migrated by hand to PostgreSQL schema ``version`` and holding
    agent a1 (rows of that day can then be written into it before a Market opens and migrates it
    further)."""
    from engine.storage.postgres import schema

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in schema.MIGRATIONS[:version]:
            with conn.transaction():
                migration(conn)
        conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
        conn.execute("INSERT INTO agents (id, name, name_key, capabilities, owner_email, api_key_hash, created_at)"
                     " VALUES ('a1', 'Old', 'old', '[]', 'o@example.com', 'h', '2026-01-01T00:00:00Z')")
        yield conn


def test_a_database_of_schema_4_compacts_its_events_and_transfers_keeping_them(postgres_url: str) -> None:
    """PostgreSQL migrations 7 and 8 (SQLite's 16 and 17) keep every event and transfer as it was."""
    with _migrated_to(postgres_url, 4) as conn:
        conn.execute("""
            INSERT INTO tasks (id, title, description, budget, required_capabilities, status, kind, poster_id,
                created_at, updated_at) VALUES ('t1', 'T', '', 30, '[]', 'open', 'market', 'a1',
                '2026-01-01T00:00:01Z', '2026-01-01T00:00:01Z');
            INSERT INTO accounts (id, kind, owner_id) VALUES ('platform:issuance', 'issuance', NULL),
                ('wallet:a1', 'wallet', 'a1'), ('escrow:t1', 'escrow', 'a1');
            INSERT INTO transfers (id, from_account, to_account, amount, kind, task_id, wallet_agent, from_balance,
                to_balance, created_at, memo) VALUES
                (1, 'platform:issuance', 'wallet:a1', 100, 'grant', NULL, 'a1', -100, 100, '2026-01-01T00:00:00Z',
                 'welcome'),
                (2, 'wallet:a1', 'escrow:t1', 30, 'escrow', 't1', 'a1', 70, 30, '2026-01-01T00:00:01Z', NULL);
            INSERT INTO events (seq, type, task_id, agent_id, created_at, data) VALUES
                (1, 'agent.registered', NULL, 'a1', '2026-01-01T00:00:00Z', '{"name": "Old"}'),
                (2, 'task.posted', 't1', 'a1', '2026-01-01T00:00:01Z', '{"title": "T", "budget": 30}'),
                (3, 'some.future.event', NULL, NULL, '2027-02-28T23:59:59Z', '{}');
        """)

    with Market(postgres_url) as market:
        assert [(e.seq, e.type, e.task_id, e.agent_id, e.created_at, e.data) for e in market.events(0)] == [
            (1, "agent.registered", None, "a1", "2026-01-01T00:00:00Z", {"name": "Old"}),
            (2, "task.posted", "t1", "a1", "2026-01-01T00:00:01Z", {"title": "T", "budget": 30}),
            (3, "some.future.event", None, None, "2027-02-28T23:59:59Z", {}),
        ]
        history = market.ledger.transactions_page("a1")
        assert [(t.id, t.kind, t.amount, t.balance_after, t.task_id, t.created_at, t.memo) for t in history.items] == [
            (2, "escrow", -30, 70, "t1", "2026-01-01T00:00:01Z", None),
            (1, "grant", 100, 100, None, "2026-01-01T00:00:00Z", "welcome"),
        ]
        assert market.verify_ledger().ok and market.verify_counters().ok
        wallet = market.wallet("a1")
        assert (wallet.balance, wallet.escrowed) == (70, 30)
        market.grant("a1", 5)  # new rows take ids after the copied ones
        assert market.ledger.transactions_page("a1").items[0].id == 3
        assert market.events(0)[-1].seq == 4


def test_a_database_of_schema_15_carries_each_tasks_status_in_its_capability_rows(postgres_url: str) -> None:
    """PostgreSQL migration 16 (SQLite's 24) keeps every capability row and gives it its task's status."""
    with _migrated_to(postgres_url, 15) as conn:
        conn.execute("""
            INSERT INTO tasks (id, title, description, budget, required_capabilities, status, kind, poster_id,
                created_at, updated_at) VALUES
                ('t1', 'T', '', 10, '["research"]', 'open', 'market', 'a1', '2026-01-01T00:00:01Z', '2026-01-01T00:00:01Z'),
                ('t2', 'T', '', 20, '["research", "writing"]', 'disputed', 'market', 'a1', '2026-01-01T00:00:01Z',
                 '2026-01-01T00:00:01Z');
            INSERT INTO task_capabilities (capability, task_rowid, budget) SELECT j.value, t.rowid, t.budget
                FROM tasks t, json_array_elements_text(t.required_capabilities::json) AS j(value);
        """)

    with Market(postgres_url) as market:
        assert [t.id for t in market.list_tasks("disputed", "writing", order="budget_low")] == ["t2"]
        assert [t.id for t in market.list_tasks(capability="research", order="budget_high")] == ["t2", "t1"]
        assert market.verify_counters().ok
        with market.context.store.write() as tx:
            tx.tasks.conn.execute("UPDATE tasks SET status = 'refunded' WHERE id = 't2'")
        assert [t.id for t in market.list_tasks("refunded", "research")] == ["t2"]
        assert market.list_tasks("disputed", "writing") == []
        assert market.verify_counters().ok


def test_rate_buckets_are_one_per_key_for_every_process_and_pruned_once_full_again(
        market_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.storage.postgres import rate_buckets

    with Market(market_database) as first, Market(market_database) as second:
        one, other = first.rate_buckets(), second.rate_buckets()  # two processes' stores, one table
        assert one is not None and other is not None
        # 3 tokens, refilled at one an hour: what the two spend together is 3.
        spent = [bucket.spend(b"key-a", 3.0, 1 / 3600) for bucket in (one, other, one, other)]
        assert spent[:3] == [0.0, 0.0, 0.0] and 3500 < spent[3] <= 3600  # seconds until a token is back
        assert other.spend(b"key-b", 3.0, 1 / 3600) == 0.0  # another key, its own bucket
        with psycopg.connect(market_database, autocommit=True) as conn:
            conn.execute("UPDATE rate_buckets SET at = at - 20000 WHERE digest = 'key-a'::bytea")
            monkeypatch.setattr(rate_buckets, "PRUNE_SECONDS", 0.0)
            assert one.spend(b"key-c", 3.0, 1 / 3600) == 0.0  # and, now and then, a prune
            left = {bytes(row[0]) for row in conn.execute("SELECT digest FROM rate_buckets")}
    assert left == {b"key-b", b"key-c"}  # key-a idled past the 3 hours that fill it: gone


def test_claims_skip_the_deliveries_another_claim_has_locked_without_waiting(market_database: str) -> None:
    with Market(market_database, allow_private_urls=True) as market:
        poster = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com").agent.id
        for n in range(3):
            market.register_agent(name=f"Hearer{n}", capabilities=["x"], owner_email=f"h{n}@example.com",
                                  webhook_url=f"https://localhost/hook/{n}")
        market.post_task(poster, title="Told to three", budget=1, required_capabilities=["x"])
        store, now = market.context.store, 4e9
        with store.claiming_write() as first:
            taken = {d.id for d in first.outbox.due(now, 1)}  # locked until this transaction ends
            with store.claiming_write() as second:  # another connection, as another node's
                skipped_to = {d.id for d in second.outbox.due(now, 10)}
        with store.read() as tx:
            every = {row[0] for row in tx.conn.execute("SELECT id FROM webhook_deliveries")}
    assert len(taken) == 1 and len(skipped_to) == 2 and taken | skipped_to == every
