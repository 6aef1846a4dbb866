"""Copying a whole market from one store to another (``agentmarket migrate``): SQLite to
PostgreSQL, PostgreSQL to SQLite, or file to file.

Every table's rows are copied with their ids, row order and history, except what the
target rebuilds itself as the rows arrive: accounts start at 0 and the transfers, replayed in
order, move them to their balances through the target's own trigger (so the copy is checked
by the ledger's CHECK constraints on the way in); counters and search indexes are kept by the
target's triggers. The whole copy is one write transaction of the target: all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ..errors import MigrationRefused, NotFound
from . import is_postgres_url, open_store

#: The tables copied, parents before children; with the rowid where lists order by it.
TABLES = ("settings", "agents", "agent_capabilities", "tasks", "task_capabilities", "accounts", "transfers",
          "event_types", "events", "webhook_deliveries", "webhook_attempts", "idempotency_keys", "granted_emails", "invites",
          "registration_origins")
_ROWID_TABLES = frozenset({"agents", "tasks", "webhook_deliveries"})
#: Identity columns whose next value follows the copied rows (PostgreSQL only; SQLite's follow by themselves).
_IDENTITIES = (("agents", "rowid"), ("tasks", "rowid"), ("webhook_deliveries", "rowid"), ("transfers", "id"),
               ("events", "seq"), ("event_types", "code"), ("webhook_attempts", "id"))
#: Generated columns: the target computes them.
_GENERATED = frozenset({("tasks", "neg_budget"), ("task_capabilities", "neg_budget")})
#: Tables that must be empty for a store to count as a copy's target (event_types the schema
#: fills: the source's replace them, its events naming types by their codes).
_MUST_BE_EMPTY = (*(t for t in TABLES if t != "event_types"), "counters")
_BATCH = 1000


def copy_market(source: str | Path, target: str | Path) -> dict[str, int]:
    """Copy the market at ``source`` into the empty store at ``target`` (files or PostgreSQL URLs).

    Returns:
        How many rows of each table were copied.

    Raises:
        NotFound: ``source`` is a file that does not exist.
        MigrationRefused: ``target`` already holds rows, or lacks a column of the source (nothing
            is changed).
        ServiceUnavailable: either store cannot be opened.
    """
    if not is_postgres_url(source) and str(source) != ":memory:" and not Path(source).exists():
        raise NotFound(f"no market at {source}")
    with ExitStack() as stack:
        source_store = open_store(source)
        stack.callback(source_store.close)
        target_store = open_store(target)
        stack.callback(target_store.close)
        with source_store.read() as from_tx, target_store.write() as to_tx:
            src, dst = from_tx.conn, to_tx.conn  # type: ignore[attr-defined]
            full = [t for t in _MUST_BE_EMPTY if dst.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is not None]
            if full:
                raise MigrationRefused(f"{target_store.path} already holds a market (table {full[0]} has rows); "
                               "migrate copies into an empty database only")
            dst.execute("DELETE FROM event_types")
            copied = {table: _copy_table(src, dst, table) for table in TABLES}
            if is_postgres_url(target):
                for table, column in _IDENTITIES:
                    dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                                f" GREATEST((SELECT max({column}) FROM {table}), 1),"
                                f" (SELECT max({column}) FROM {table}) IS NOT NULL)")
    return copied


def _copy_table(src: Any, dst: Any, table: str) -> int:
    columns = _columns(src, table)
    missing = set(columns) - set(_columns(dst, table))
    if missing:
        raise MigrationRefused(f"the target's table {table} lacks columns {sorted(missing)}; "
                               "is it an older AgentMarket's schema?")
    selected = ", ".join(f"0 AS {c}" if (table, c) == ("accounts", "balance") else c for c in columns)
    order = "rowid" if table in _ROWID_TABLES else {"events": "seq", "event_types": "code"}.get(table, "1")
    if table in ("transfers", "webhook_attempts"):
        order = "id"
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    count = 0
    for rows in _batches(src.execute(f"SELECT {selected} FROM {table} ORDER BY {order}")):
        dst.executemany(insert, rows)
        count += len(rows)
    return count


def _columns(conn: Any, table: str) -> list[str]:
    names = [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description
             if d[0] != "rowid" and (table, d[0]) not in _GENERATED]
    return [*names, "rowid"] if table in _ROWID_TABLES else names


def _batches(cursor: Any) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(_BATCH):
        yield [tuple(row) for row in rows]
