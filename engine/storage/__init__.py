"""The storage layer: all of the market's SQL lives in this package.

The services open a transaction with ``store.write()`` (one ``BEGIN IMMEDIATE``
transaction) or ``store.read()`` and use its repositories (``tx.agents``, ``tx.tasks``,
...), whose Protocols are in :mod:`.repositories`; the SQLite classes are the ``*_sql``
modules, and :mod:`.postgres` runs the same classes on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ServiceUnavailable
from .connection import SQLiteStore
from .repositories import MarketTx, Store
from .schema import SCHEMA_VERSION
from .transaction import SQLiteTx

__all__ = ["SCHEMA_VERSION", "MarketTx", "SQLiteStore", "SQLiteTx", "Store", "is_postgres_url", "open_store"]


def is_postgres_url(path: str | Path) -> bool:
    """Whether ``path`` names a PostgreSQL database (``postgresql://...``) rather than a SQLite file."""
    return isinstance(path, str) and path.startswith(("postgresql://", "postgres://"))


def open_store(path: str | Path) -> Store:
    """The store of the market at ``path``: a SQLite file (or ``":memory:"``) or a PostgreSQL URL.

    Raises:
        ServiceUnavailable: a PostgreSQL URL without the ``postgres`` extra installed, or one
            that cannot be opened (see ``PostgresStore``).
    """
    if not is_postgres_url(path):
        return SQLiteStore(path)
    try:
        from .postgres import PostgresStore
    except ImportError:
        raise ServiceUnavailable("a postgresql:// market needs the postgres extra: "
                                 "pip install 'agentmarket[postgres]'") from None
    return PostgresStore(str(path))
