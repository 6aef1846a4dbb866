"""The SQLite repositories' SQL, spoken to PostgreSQL: a psycopg connection that takes
SQLite's statements and turns them into PostgreSQL's once per statement text.

The repositories are written once (the ``*_sql`` modules); what differs between the two
dialects is small and mechanical, and it is all here:

- placeholders: ``?`` and numbered ``?N`` become psycopg's ``%s`` (arguments reordered for
  ``?N``), and a literal ``%`` is doubled;
- ``INSERT OR IGNORE`` becomes ``INSERT ... ON CONFLICT DO NOTHING``; the two-argument
  scalar ``MAX(a, b)`` becomes ``GREATEST``; ``CAST(... AS REAL)`` a double; a ``CROSS JOIN``
  with an ``ON`` (SQLite's way to fix the join order) a plain ``JOIN``;
- unix seconds read back as the market's times, ``strftime('%Y-%m-%dT%H:%M:%SZ', x, 'unixepoch')``,
  become the schema's ``am_iso_time(x)`` (``unixepoch(text)`` the schema defines as SQLite has it);
- rows answer by position, by name, by slice and to ``dict()``, as ``sqlite3.Row`` does;
  integral ``numeric`` results (``SUM`` of a ``bigint``) come back as ``int``;
- ``cursor.lastrowid`` is the identity the INSERT drew: returned by the INSERT itself for
  the tables whose callers read it (no extra round trip), else the session's ``lastval()``;
- errors: a constraint violation is raised as ``sqlite3.IntegrityError`` (the one error
  the repositories catch), a lost or unreachable server as ``ServiceUnavailable``.

``rowid`` needs no translation: the PostgreSQL schema has a ``rowid`` identity column on
the tables whose SQL orders by it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import RowMaker
from psycopg.types.numeric import NumericLoader

from ...errors import ServiceUnavailable

_TOKENS = re.compile(r"('(?:[^']|'')*')|\?(\d*)|%")
_GREATEST = re.compile(r"\bMAX\(([^(),]+),\s*([^(),]+)\)", re.IGNORECASE)
_OR_IGNORE = "INSERT OR IGNORE INTO"
_CROSS_JOIN_ON = re.compile(r"\bCROSS JOIN (\w+ \w+) ON\b")
_ISO_TIME = re.compile(r"strftime\('%Y-%m-%dT%H:%M:%SZ', ([^,()]+), 'unixepoch'\)")
#: The identity column of each table whose INSERTs the repositories read ``lastrowid`` of.
_RETURNED = {"INSERT INTO tasks ": "rowid", "INSERT INTO events ": "seq"}


@lru_cache(maxsize=1024)
def translate(sql: str, with_args: bool) -> tuple[str, tuple[int, ...] | None]:
    """``sql`` in PostgreSQL's words, and the argument order for numbered placeholders.

    Args:
        with_args: arguments will be passed (psycopg then reads ``%`` as a placeholder mark).

    Returns:
        The statement and, when it used ``?N``, the index into the given arguments of each
        ``%s`` in turn (None: the arguments go in as given).
    """
    if sql.startswith(_OR_IGNORE):
        sql = "INSERT INTO" + sql[len(_OR_IGNORE):] + " ON CONFLICT DO NOTHING"
    for prefix, column in _RETURNED.items():
        if sql.startswith(prefix) and " RETURNING " not in sql:
            sql += f" RETURNING {column}"
    sql = _GREATEST.sub(r"GREATEST(\1, \2)", sql).replace(" AS REAL)", " AS DOUBLE PRECISION)")
    sql = _ISO_TIME.sub(r"am_iso_time(\1)", _CROSS_JOIN_ON.sub(r"JOIN \1 ON", sql))
    if not with_args:
        return sql, None
    order: list[int] = []
    numbered = False

    def token(match: re.Match[str]) -> str:
        nonlocal numbered
        literal, number = match.group(1), match.group(2)
        if literal is not None:
            return literal.replace("%", "%%")
        if match.group(0) == "%":
            return "%%"
        if number:
            numbered = True
            order.append(int(number) - 1)
        else:
            order.append(len(order))
        return "%s"

    return _TOKENS.sub(token, sql), (tuple(order) if numbered else None)


class Row(tuple):  # type: ignore[type-arg]
    """One result row, read like ``sqlite3.Row``: ``row[0]``, ``row["name"]``, ``row[:4]``,
    ``dict(row)``; and equal to the tuple of its values, as sqlite3's plain rows are."""

    __slots__ = ()
    _names: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_names": {name: i for i, name in enumerate(names)}})


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    return _row_class(tuple(column.name for column in cursor.description or ()))


class _IntegralNumeric(NumericLoader):
    """``numeric`` as ``int`` when it is whole (sums of bigints), else ``float``, as SQLite answers."""

    def load(self, data: Any) -> int | float:
        value = super().load(data)
        return int(value) if value == value.to_integral_value() else float(value)


class PgCursor(psycopg.Cursor[Row]):
    """A cursor with sqlite3's ``lastrowid``: the identity its INSERT drew."""

    @property
    def lastrowid(self) -> int:
        if self.description is not None and self.rownumber == 0:  # the INSERT returned it
            row = self.fetchone()
            if row is not None:
                return row[0]
        return self.connection.execute("SELECT lastval()").fetchone()[0]


class PgConnection(psycopg.Connection[Row]):
    """A psycopg connection whose ``execute`` and ``executemany`` take the repositories' SQLite SQL.

    Attributes:
        wrote: a statement other than a SELECT ran since the store last cleared it (the
            store then tells other nodes that the market changed).
    """

    wrote = False

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> PgConnection:  # type: ignore[override]
        conn = super().connect(conninfo, **kwargs)
        conn.row_factory = _rows
        conn.cursor_factory = PgCursor
        conn.adapters.register_loader("numeric", _IntegralNumeric)
        return conn

    def execute(self, query: Any, params: Sequence[Any] | None = None, **kwargs: Any) -> PgCursor:  # type: ignore[override]
        if not isinstance(query, str):
            return super().execute(query, params, **kwargs)  # type: ignore[return-value]
        sql, order = translate(query, bool(params))
        if order is not None and params:
            params = [params[i] for i in order]
        if not self.wrote and not sql.lstrip()[:6].upper() in ("SELECT", "BEGIN", "COMMIT", "ROLLBA", ""):
            self.wrote = True
        try:
            return super().execute(sql, params or None, **kwargs)  # type: ignore[return-value]
        except psycopg.Error as exc:
            raise translated(exc) from exc

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> PgCursor:
        """Run ``query`` once per row; ``rowcount`` of the answer is the sum over all of them."""
        sql, order = translate(query, True)
        if order is not None:
            rows = [[row[i] for i in order] for row in rows]
        self.wrote = True
        cursor = self.cursor()
        try:
            cursor.executemany(sql, rows)
        except psycopg.Error as exc:
            raise translated(exc) from exc
        return cursor  # type: ignore[return-value]


def translated(exc: psycopg.Error) -> Exception:
    """The exception the engine expects for psycopg's ``exc``."""
    if isinstance(exc, psycopg.errors.IntegrityError):
        return sqlite3.IntegrityError(str(exc))
    if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, _RETRIED):
        return ServiceUnavailable("the market's database is unreachable; retry later")
    return exc


# Serialization failures and deadlocks are OperationalErrors too, but they are the store's to
# retry, not an outage.
_RETRIED = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
