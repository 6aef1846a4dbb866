"""Reaching a market's database behind the engine's back, on either store: what tests that
tamper with a market, or read its tables directly, use instead of ``sqlite3.connect``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from engine.storage import is_postgres_url


def raw_connection(db: Path | str) -> Any:
    """A connection to the market's database in autocommit mode, speaking SQLite's SQL on both
    stores (``conn.execute(sql, args)``; PostgreSQL's through the store's own dialect)."""
    if is_postgres_url(db):
        from engine.storage.postgres._dialect import PgConnection

        return PgConnection.connect(str(db), autocommit=True)
    return sqlite3.connect(db, isolation_level=None)


def tamper(db: Path | str, sql: str, *args: object) -> None:
    """Change the market's database behind its back, as a bug or an intruder would: with the
    balance CHECK switched off, so the engine's own checks must find what changed.

    Raises:
        sqlite3.IntegrityError: the database refused it (e.g. the append-only trigger).
    """
    conn = raw_connection(db)
    try:
        if not is_postgres_url(db):
            conn.execute("PRAGMA ignore_check_constraints = ON")
            conn.execute(sql, args)
            return
        from engine.storage.postgres.schema import BALANCE_SIGN

        conn.execute("ALTER TABLE accounts DROP CONSTRAINT accounts_balance_sign")
        try:
            conn.execute(sql, args)
        finally:  # back for every later change, not checked against what the tampering left
            conn.execute(f"ALTER TABLE accounts ADD CONSTRAINT accounts_balance_sign {BALANCE_SIGN} NOT VALID")
    finally:
        conn.close()


def dump(db: Path | str) -> str:
    """Everything the market's database holds, as text (to show a secret is not stored in the clear)."""
    conn = raw_connection(db)
    try:
        if not is_postgres_url(db):
            return "\n".join(conn.iterdump())
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(repr(tuple(row)) for table in tables for row in conn.execute(f"SELECT * FROM {table}"))
    finally:
        conn.close()
