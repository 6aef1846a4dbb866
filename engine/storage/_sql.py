"""Statements built from column names, built once per shape and reused."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=64)
def insert(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


@lru_cache(maxsize=64)
def update(table: str, columns: tuple[str, ...], key: str = "id") -> str:
    """``UPDATE table SET column = ?, ... WHERE key = ?``: the values, then the key."""
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE {key} = ?"
