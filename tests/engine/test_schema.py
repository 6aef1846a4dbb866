"""The schema's migrations, and the ledger rules the database itself enforces."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from engine import Market
from engine.storage import SCHEMA_VERSION
from engine.storage._accounts import FEES_KEY, ISSUANCE_KEY, key_of
from engine.storage.schema import MIGRATIONS, SEARCH_PAGE_BYTES
from tests.support.stores import raw_connection

from .conftest import register


def test_a_market_made_by_an_older_version_migrates_and_keeps_its_ledger(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # A market as version 2 left it: made by the migrations of that day, with money in it.
    conn = sqlite3.connect(path, isolation_level=None)
    db = Database(conn)
    for version, migration in enumerate(MIGRATIONS[:2], start=1):
        migration(db)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO accounts (id, kind, balance) VALUES ('platform:issuance', 'issuance', -100)")
    conn.execute("INSERT INTO agents (id, name, name_key, capabilities, owner_email, api_key_hash, created_at)"
                 " VALUES ('a1', 'Old', 'old', '[\"research\"]', 'o@example.com', 'h', '2026-01-01T00:00:00Z')")
    conn.execute("INSERT INTO accounts (id, kind, owner_id, balance) VALUES ('wallet:a1', 'wallet', 'a1', 100)")
    conn.execute("INSERT INTO transfers (from_account, to_account, amount, kind, wallet_agent, from_balance,"
                 " to_balance, created_at) VALUES ('platform:issuance', 'wallet:a1', 100, 'grant', 'a1', -100, 100,"
                 " '2026-01-01T00:00:00Z')")
    conn.close()

    with Market(path) as market:
        assert Database(sqlite3.connect(path)).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        worker = register(market, "Worker")
        task = market.post_task("a1", title="After the upgrade", budget=40, required_capabilities=["research"])
        market.accept_task(task.id, worker)
        market.complete_task(task.id, worker, "done")
        assert market.balance("a1") == 60
        assert market.balance(worker) == 100 + 36
        # Emails that got their grant before version 4 keep it: another agent of one starts at 0.
        again = market.register_agent(name="Old again", capabilities=["research"], owner_email="O@example.com")
        assert again.balance == 0
        assert market.verify_ledger().ok
        # Migration 9 counted what was there before it; the triggers counted the rest.
        assert market.verify_counters().ok
        # Migration 9 indexed the agent that was there for search; the triggers indexed the rest.
        assert [a.name for a in market.list_agents(search="OLD")] == ["Old again", "Old"]
        assert (market.stats().agents, market.stats().tasks) == (3, {"completed": 1})
        assert market.ledger.transactions_page("a1").total == 2


def test_a_transfer_row_moves_the_cached_balances_with_it(market: Market) -> None:
    """Even SQL that bypasses the engine cannot record a transfer without moving the credits."""
    agent = register(market, "Agent")
    conn = raw_connection(market.path)
    conn.execute("INSERT INTO transfers (from_account, to_account, amount, kind, wallet, from_balance,"
                 f" to_balance, at) VALUES ({ISSUANCE_KEY}, {key_of('?1')}, 7, 'grant',"
                 " (SELECT rowid FROM agents WHERE id = ?2), 0, 0, 0)",
                 ("wallet:" + agent, agent))
    conn.close()
    assert market.balance(agent) == 100 + 7
    assert market.verify_ledger().ok


def test_a_transfer_that_would_overdraw_a_wallet_is_refused_by_the_database(market: Market) -> None:
    agent = register(market, "Agent")
    conn = raw_connection(market.path)
    with pytest.raises(sqlite3.IntegrityError, match="(?i)check"):
        conn.execute("INSERT INTO transfers (from_account, to_account, amount, kind, wallet, from_balance,"
                     f" to_balance, at) VALUES ({key_of('?1')}, {FEES_KEY}, 101, 'fee',"
                     " (SELECT rowid FROM agents WHERE id = ?2), 0, 0, 0)",
                     ("wallet:" + agent, agent))
    conn.close()
    assert market.balance(agent) == 100
    assert market.verify_ledger().ok


@pytest.mark.sqlite_only
def test_a_background_thread_checkpoints_the_wal_and_stops_on_close(market_path: Path) -> None:
    import threading
    import time

    market = Market(market_path)
    poster, worker = register(market, "Poster"), register(market, "Worker")
    for _ in range(20):
        task = market.post_task(poster, title="t", budget=1, required_capabilities=["research"])
        market.accept_task(task.id, worker)
        market.complete_task(task.id, worker, "done")
    # Read the database file alone, ignoring the WAL: the tasks are there once checkpointed.
    def tasks_in_file() -> int:
        probe = sqlite3.connect(f"file:{market_path}?immutable=1", uri=True)
        try:
            return probe.execute("SELECT count(*) FROM tasks").fetchone()[0]
        except sqlite3.OperationalError:  # not even the schema has been copied back yet
            return 0
        finally:
            probe.close()

    deadline = time.monotonic() + 10
    while tasks_in_file() < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tasks_in_file() == 20
    assert any(t.name.startswith("checkpoint ") for t in threading.enumerate())
    market.close()
    assert not any(t.name == f"checkpoint {market_path}" for t in threading.enumerate())


def test_money_settings_changed_by_another_process_apply_at_once(market_path: Path) -> None:
    """The fee and the grant are read in the transaction that moves the credits."""
    with Market(market_path) as server, Market(market_path) as operator:
        poster, worker = register(server, "Poster"), register(server, "Worker")
        operator.configure(fee_percent=20, registration_grant=7)
        task = server.post_task(poster, title="t", budget=10, required_capabilities=["research"])
        server.accept_task(task.id, worker)
        server.complete_task(task.id, worker, "done")
        assert server.balance(worker) == 100 + 8  # 20% of 10 kept as the fee
        newcomer = server.register_agent(name="Late", capabilities=["research"], owner_email="l@example.com")
        assert newcomer.balance == server.balance(newcomer.agent.id) == 7
        assert server.verify_ledger().ok


def test_a_file_of_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agentmarket_tui.cli import main

    path = tmp_path / "future.db"
    Market(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    result = CliRunner().invoke(main, ["ledger", "verify", "--db", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert f"schema version {SCHEMA_VERSION + 1}" in result.output and "upgrade AgentMarket" in result.output


def _file_just_before(path: Path, migration: str, budget: int) -> sqlite3.Connection:
    """A market file migrated up to just before ``migration``, holding agent a1 and its task t1."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = Database(conn)
    upto = next(n for n, m in enumerate(MIGRATIONS, start=1) if m.__name__ == migration)
    for version, step in enumerate(MIGRATIONS[:upto - 1], start=1):
        step(db)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO agents (id, name, name_key, capabilities, owner_email, api_key_hash, created_at)"
                 " VALUES ('a1', 'Old', 'old', '[]', 'o@example.com', 'h', '2026-01-01T00:00:00Z')")
    _old_task(conn, "t1", budget)
    return conn


def _old_task(conn: sqlite3.Connection, task_id: str, budget: int, *, title: str = "T", description: str = "",
              capabilities: tuple[str, ...] = (), status: str = "open") -> None:
    """A task row of agent a1 as a file of that schema holds it, written by hand."""
    conn.execute("INSERT INTO tasks (id, title, description, budget, required_capabilities, status, kind, poster_id,"
                 " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'market', 'a1', '2026-01-01T00:00:01Z',"
                 " '2026-01-01T00:00:01Z')", (task_id, title, description, budget, json.dumps(list(capabilities)),
                                              status))


def test_compacting_the_events_keeps_every_event_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "v12.db"
    conn = _file_just_before(path, "_m016_compact_events", budget=5)
    before = [
        (1, "agent.registered", None, "a1", "2026-01-01T00:00:00Z", '{"name": "Old"}'),
        (2, "task.posted", "t1", "a1", "2026-01-01T00:00:01Z", '{"title": "T", "budget": 5}'),
        (3, "task.expired", "t1", None, "2027-02-28T23:59:59Z", "{}"),
        (4, "some.future.event", None, None, "2026-06-30T12:00:00Z", "{}"),
    ]
    conn.executemany("INSERT INTO events (seq, type, task_id, agent_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
                     before)
    conn.close()

    with Market(path) as market:
        after = [(e.seq, e.type, e.task_id, e.agent_id, e.created_at, e.data) for e in market.events(0)]
        assert after == [(*row[:5], json.loads(row[5])) for row in before]
        assert [e.seq for e in market.task_timeline("t1")] == [2, 3]
        compact_row = sqlite3.connect(path).execute("SELECT type, task, agent, at, data FROM events WHERE seq = 3")
        assert compact_row.fetchone()[1:] == (1, None, 1803859199, None)  # the task's rowid, unix seconds, no data


def test_compacting_the_transfers_keeps_every_transfer_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "v13.db"
    conn = _file_just_before(path, "_m017_compact_transfers", budget=30)
    conn.executemany("INSERT INTO accounts (id, kind, owner_id) VALUES (?, ?, ?)",
                     [("platform:issuance", "issuance", None), ("wallet:a1", "wallet", "a1"), ("escrow:t1", "escrow", "a1")])
    rows = [
        (1, "platform:issuance", "wallet:a1", 100, "grant", None, "a1", -100, 100, "2026-01-01T00:00:00Z", "welcome"),
        (2, "wallet:a1", "escrow:t1", 30, "escrow", "t1", "a1", 70, 30, "2026-01-01T00:00:01Z", None),
    ]
    conn.executemany("INSERT INTO transfers (id, from_account, to_account, amount, kind, task_id, wallet_agent,"
                     " from_balance, to_balance, created_at, memo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()

    with Market(path) as market:
        history = market.ledger.transactions_page("a1")
        assert [(t.id, t.kind, t.amount, t.balance_after, t.task_id, t.counterparty, t.created_at, t.memo)
                for t in history.items] == [
            (2, "escrow", -30, 70, "t1", "escrow:t1", "2026-01-01T00:00:01Z", None),
            (1, "grant", 100, 100, None, "platform:issuance", "2026-01-01T00:00:00Z", "welcome"),
        ]
        assert history.total == 2
        assert market.verify_ledger().ok and market.verify_counters().ok
        assert market.balance("a1") == 70
        # The wallet view's sums (migration 13) still follow the transfers after the compaction.
        wallet = market.wallet("a1")
        assert (wallet.balance, wallet.escrowed, wallet.earned, wallet.spent) == (70, 30, 0, 0)


def test_posted_and_rated_events_read_their_data_from_the_task(market: Market) -> None:
    """Their data is the task's own fields (storage/events_sql.DERIVED): stored once, in the task;
    data that is not the task's is kept as given."""
    poster, worker = register(market, "Poster"), register(market, "Worker")
    task = market.post_task(poster, title="Résumé \"quoted\"", budget=7)
    market.accept_task(task.id, worker)
    market.complete_task(task.id, worker, "done")
    market.rate_task(task.id, poster, 4)
    with market.context.store.write() as tx:
        tx.events.add("task.posted", task.id, poster, "2026-01-01T00:00:00Z", {"title": "another", "budget": 7})
        tx.events.add("task.rated", task.id, poster, "2026-01-01T00:00:00Z", {})
    timeline = [(e.type, e.data) for e in market.task_timeline(task.id)]
    assert timeline == [("task.posted", {"title": "Résumé \"quoted\"", "budget": 7}), ("task.assigned", {}),
                        ("task.completed", {}), ("task.rated", {"rating": 4}),
                        ("task.posted", {"title": "another", "budget": 7}), ("task.rated", {})]
    conn = raw_connection(market.path)
    stored = [row[0] for row in conn.execute("SELECT data FROM events WHERE task IS NOT NULL ORDER BY seq")]
    conn.close()
    assert stored[0] is None and stored[3] is None and stored[4] is not None and stored[5] == "{}"


def _capability_rows_before_24(path: Path) -> sqlite3.Connection:
    """A file just before migration 24 holding tasks of research in three statuses (t3 of writing too)."""
    conn = _file_just_before(path, "_m024_capability_status", budget=5)
    conn.execute("UPDATE tasks SET required_capabilities = '[\"research\"]' WHERE id = 't1'")
    for n, (status, capabilities) in enumerate([("completed", ("research",)), ("disputed", ("research", "writing"))],
                                               start=2):
        _old_task(conn, f"t{n}", 10 * n, capabilities=capabilities, status=status)
    conn.execute("INSERT INTO task_capabilities (capability, task_rowid, budget) SELECT j.value, t.rowid, t.budget"
                 " FROM tasks t, json_each(t.required_capabilities) j")
    return conn


def test_carrying_the_status_in_the_capability_rows_keeps_every_row_and_follows_changes(tmp_path: Path) -> None:
    path = tmp_path / "v23.db"
    _capability_rows_before_24(path).close()

    with Market(path) as market:
        carried = sqlite3.connect(path).execute(
            "SELECT t.id, c.capability, s.name FROM task_capabilities c JOIN tasks t ON t.rowid = c.task_rowid"
            " JOIN task_statuses s ON s.code = c.status ORDER BY 1, 2").fetchall()
        assert carried == [("t1", "research", "open"), ("t2", "research", "completed"),
                           ("t3", "research", "disputed"), ("t3", "writing", "disputed")]
        assert market.verify_counters().ok
        assert [t.id for t in market.list_tasks("disputed", "writing", order="budget_high")] == ["t3"]
        assert [t.id for t in market.list_tasks(capability="research", order="budget_low")] == ["t1", "t2", "t3"]
        with sqlite3.connect(path) as writer:  # any writer's status change: the trigger moves both rows
            writer.execute("UPDATE tasks SET status = 'refunded' WHERE id = 't3'")
        assert [t.id for t in market.list_tasks("refunded", "writing")] == ["t3"]
        assert market.list_tasks("disputed", "research") == []
        assert market.verify_counters().ok


def test_a_capability_row_its_task_does_not_list_stops_migration_24_changing_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v23.db"
    conn = _capability_rows_before_24(path)
    conn.execute("INSERT INTO task_capabilities (capability, task_rowid, budget) VALUES ('coding', 1, 5)")
    conn.close()

    with pytest.raises(RuntimeError, match="1 task capabilities are missing from their task's list"):
        Market(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 23
    assert conn.execute("SELECT count(*) FROM task_capabilities").fetchone()[0] == 5


def test_the_search_indexes_rebuilt_in_small_pages_find_what_they_found(tmp_path: Path) -> None:
    path = tmp_path / "v25.db"
    conn = _file_just_before(path, "_m026_small_search_pages", budget=5)
    for n in (2, 3):
        _old_task(conn, f"t{n}", 5 - n, title=f"Parser {n}", description="Über-parser")
    conn.close()

    with Market(path) as market:
        assert [t.id for t in market.list_tasks(search="parser")] == ["t3", "t2"]
        assert [t.id for t in market.list_tasks(search="über", order="budget_high")] == ["t2", "t3"]
        assert [a.id for a in market.list_agents(search="old")] == ["a1"]
        poster = market.register_agent(name="New", capabilities=["coding"], owner_email="n@example.com").agent
        newer = market.post_task(poster.id, title="A parser too", budget=2)
        assert [t.id for t in market.list_tasks(search="PARSER")] == [newer.id, "t3", "t2"]
    conn = sqlite3.connect(path)
    for fts in ("tasks_fts", "agents_fts"):
        assert conn.execute(f"SELECT v FROM {fts}_config WHERE k = 'pgsz'").fetchone()[0] == SEARCH_PAGE_BYTES
    conn.close()
