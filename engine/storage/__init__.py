"""The storage layer: all of the market's SQL lives in this package.

The engine opens a :class:`SQLiteStore` and runs each operation inside
``store.write()`` (one ``BEGIN IMMEDIATE`` transaction) or ``store.read()``.
"""

from .connection import SQLiteStore
from .queries import SQLiteTx
from .schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "SQLiteTx"]
