"""The SQLite repositories stand behind the storage Protocols: every Protocol method exists
on its SQLite class with the same parameters (what a PostgreSQL implementation must match)."""

from __future__ import annotations

import inspect

import pytest

from engine.storage import repositories as r
from engine.storage.agents_sql import SQLiteAgents
from engine.storage.events_sql import SQLiteEvents
from engine.storage.idempotency_sql import SQLiteIdempotency
from engine.storage.ledger_sql import SQLiteLedger
from engine.storage.outbox_sql import SQLiteOutbox
from engine.storage.settings_sql import SQLiteSettings
from engine.storage.tasks_sql import SQLiteTasks
from engine.storage.transaction import SQLiteTx

PAIRS = [
    (r.AgentRepository, SQLiteAgents),
    (r.TaskRepository, SQLiteTasks),
    (r.LedgerRepository, SQLiteLedger),
    (r.EventRepository, SQLiteEvents),
    (r.OutboxRepository, SQLiteOutbox),
    (r.IdempotencyRepository, SQLiteIdempotency),
    (r.SettingsRepository, SQLiteSettings),
]


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(cls).items()
            if inspect.isfunction(fn) and not name.startswith("_")}


@pytest.mark.parametrize(("protocol", "implementation"), PAIRS, ids=[p.__name__ for p, _ in PAIRS])
def test_the_sqlite_class_implements_its_protocol(protocol: type, implementation: type) -> None:
    wanted, offered = _methods(protocol), _methods(implementation)
    assert set(wanted) == set(offered)
    for name, signature in wanted.items():
        assert list(signature.parameters) == list(offered[name].parameters), name


def test_a_transaction_offers_one_repository_per_area() -> None:
    areas = set(r.MarketTx.__annotations__)
    assert areas == {"agents", "tasks", "ledger", "events", "outbox", "idempotency", "registrations", "settings",
                     "counters"}
    assert set(SQLiteTx.REPOSITORIES) == areas  # (and its connection, for whole-table tools)
