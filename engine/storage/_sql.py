"""Statements built from column names, built once per shape and reused."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=64)
def update(table: str, columns: tuple[str, ...]) -> str:
    """``UPDATE table SET column = ?, ... WHERE id = ?``: the values, then the id."""
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"
