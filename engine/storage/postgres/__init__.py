"""The market on PostgreSQL (SPEC §13): the same repositories as SQLite's over psycopg 3.

Importing this package needs the ``postgres`` extra (``pip install 'agentmarket[postgres]'``);
the rest of the engine never imports it unless a ``postgresql://`` URL is opened
(``engine.storage.open_store``).
"""

from .store import PostgresStore

__all__ = ["PostgresStore"]
