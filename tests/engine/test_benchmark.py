"""The engine benchmark runs end to end (its figures are not asserted: speed is not a unit test)."""

from __future__ import annotations

import pytest

from benchmarks import engine_bench


def test_benchmark_prints_the_engine_and_every_floor(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_bench.main(["--lifecycles", "20", "--rounds", "2"]) == 0
    output = capsys.readouterr().out
    for label in ("engine (Market)", "minimal floor", "ledger floor", "spec floor", "spec floor with §12",
                  "replayed, as it commits", "replayed, Market.batch()", "engine/floor"):
        assert label in output


def test_every_floor_keeps_its_books(tmp_path) -> None:
    """The floors do the work they claim: after three lifecycles the credits add up."""
    import sqlite3

    for name, make in (("ledger", engine_bench.ledger_floor), ("spec", engine_bench.spec_floor),
                       ("spec12", engine_bench.spec12_floor)):
        path = str(tmp_path / f"{name}.db")
        make(path)(3)
        conn = sqlite3.connect(path)
        balances = dict(conn.execute("SELECT id, balance FROM accounts"))
        assert balances["wallet:b"] == 3 * engine_bench.PAY and balances["fees"] == 3 * engine_bench.FEE
        assert conn.execute("SELECT count(*) FROM transfers").fetchone()[0] == 9
        if name != "ledger":
            assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 9
            assert conn.execute("SELECT total_tasks FROM agents WHERE id = 'b'").fetchone()[0] == 3
        if name == "spec12":
            counters = {(kind, key, status): n for kind, key, status, n in conn.execute("SELECT * FROM counters")}
            assert counters[("tasks", "", "completed")] == counters[("assignee", "b", "completed")] == 3
            assert counters[("capability", "x", "open")] == counters[("tasks", "", "assigned")] == 0
            assert conn.execute("SELECT count(*) FROM tasks_fts WHERE tasks_fts MATCH 'chmar'").fetchone()[0] == 3


def test_the_replay_row_replays_the_engines_own_statements(tmp_path) -> None:
    """The replay row writes what the engine wrote: its lifecycles, settled, in its own tables."""
    import sqlite3

    run = engine_bench.replayed(str(tmp_path / "replay.db"), [2, 3], batched=True)
    run(2)
    run(3)
    conn = sqlite3.connect(tmp_path / "replay.db")
    assert conn.execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall() == [("completed", 5)]
