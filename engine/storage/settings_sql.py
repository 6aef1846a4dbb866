"""SQLite: market settings as JSON values (:class:`~.repositories.SettingsRepository`)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


class SQLiteSettings:
    """Settings in table ``settings`` (key, JSON value)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, name: str) -> Any:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def all(self) -> dict[str, Any]:
        return {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT key, value FROM settings")}

    def put(self, name: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value)),
        )
