"""Statements built from column names, built once per shape and reused."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

# A count the counters cannot answer (a text search, two narrowing filters at once) stops
# here: past it, a total is a lower bound (SPEC §12), so no request counts a whole market.
COUNT_CAP = 10_000


@lru_cache(maxsize=64)
def update(table: str, columns: tuple[str, ...]) -> str:
    """``UPDATE table SET column = ?, ... WHERE id = ?``: the values, then the id."""
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"


def capped_count(conn: sqlite3.Connection, rows_sql: str, args: Sequence[Any]) -> tuple[int, bool]:
    """How many rows ``rows_sql`` selects, counting at most :data:`COUNT_CAP`.

    Returns:
        The count and whether it is a lower bound (the cap was reached).
    """
    n = conn.execute(f"SELECT count(*) FROM ({rows_sql} LIMIT {COUNT_CAP})", tuple(args)).fetchone()[0]
    return n, n >= COUNT_CAP
