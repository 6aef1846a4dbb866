"""The storage layer: all of the market's SQL lives in this package.

The services open a transaction with ``store.write()`` (one ``BEGIN IMMEDIATE``
transaction) or ``store.read()`` and use its repositories (``tx.agents``, ``tx.tasks``,
...), whose Protocols are in :mod:`.repositories`; the SQLite classes are the ``*_sql``
modules.
"""

from .connection import SQLiteStore
from .repositories import MarketTx, Store
from .schema import SCHEMA_VERSION
from .transaction import SQLiteTx

__all__ = ["SCHEMA_VERSION", "MarketTx", "SQLiteStore", "SQLiteTx", "Store"]
