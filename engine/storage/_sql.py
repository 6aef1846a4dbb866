"""Statements built from column names, built once per shape and reused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

# A count the counters cannot answer (a text search, two narrowing filters at once) stops
# here: past it, a total is a lower bound (SPEC §12), so no request counts a whole market.
COUNT_CAP = 10_000
# A text search's total stops sooner: each match counted is a phrase checked in the FTS5 index
# (1,000 of them were 0.6 ms, half of a search request's time; 200 are ten pages of 20).
SEARCH_COUNT_CAP = 200


def tuples(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> Iterable[tuple[Any, ...]]:
    """The rows of ``sql`` as plain tuples: a check that streams millions of rows spends a fifth
    more on sqlite3.Row (another store's connection answers with its own rows, tuples too)."""
    if not isinstance(conn, sqlite3.Connection):
        return conn.execute(sql, tuple(args))
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, tuple(args))


@lru_cache(maxsize=64)
def update(table: str, columns: tuple[str, ...]) -> str:
    """``UPDATE table SET column = ?, ... WHERE id = ?``: the values, then the id."""
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"


def capped_count(conn: sqlite3.Connection, rows_sql: str, args: Sequence[Any],
                 cap: int | None = None) -> tuple[int, bool]:
    """How many rows ``rows_sql`` selects, counting at most ``cap`` (:data:`COUNT_CAP` by default).

    Returns:
        The count and whether it is a lower bound (the cap was reached).
    """
    cap = COUNT_CAP if cap is None else cap
    n = conn.execute(f"SELECT count(*) FROM ({rows_sql} LIMIT {cap}) AS capped", tuple(args)).fetchone()[0]
    return n, n >= cap


def scanned_count(conn: sqlite3.Connection, rows_sql: str, args: Sequence[Any], cap: int) -> tuple[int, bool]:
    """How many of the first ``cap`` rows ``rows_sql`` scans count (its column ``ok`` is 1).

    Returns:
        The count and whether it is a lower bound (the scan reached the cap).
    """
    n, scanned = conn.execute(f"SELECT COALESCE(SUM(ok), 0), count(*) FROM ({rows_sql} LIMIT {cap}) AS scanned",
                              tuple(args)).fetchone()
    return int(n), scanned >= cap


# A sort order as (SQL expression, descending?) pairs, the last one unique (rowid, id).
SortKey = tuple[tuple[str, bool], ...]
# Alternative WHERE conditions (with their arguments), each an index walk in the page's order,
# whose rows a page merges (see keyset_statement); None: one walk.
Arms = list[tuple[str, list[Any]]] | None


def order_by(sort: SortKey) -> str:
    """The ORDER BY list of ``sort``."""
    return ", ".join(f"{expr} {'DESC' if desc else 'ASC'}" for expr, desc in sort)


def key_columns(sort: SortKey) -> str:
    """The sort key's expressions as extra result columns (read back by :func:`page_of`)."""
    return ", ".join(expr for expr, _ in sort)


def after(sort: SortKey, key: Sequence[Any]) -> tuple[str, list[Any]]:
    """A condition selecting the rows that come after sort key ``key`` in order ``sort``.

    A key of one direction is a row-value comparison, which SQLite answers from an index
    range; a mixed one leads with the first column's range for the same reason.
    """
    if len(key) != len(sort):
        raise ValueError("a sort key of another shape")
    if len({desc for _, desc in sort}) == 1:
        op = "<" if sort[0][1] else ">"
        marks = ", ".join("?" * len(sort))
        return f"({key_columns(sort)}) {op} ({marks})", list(key)
    condition, args = _strictly_after(sort, key)
    (first, desc), value = sort[0], key[0]
    return f"{first} {'<=' if desc else '>='} ? AND {condition}", [value, *args]


def _strictly_after(sort: SortKey, key: Sequence[Any]) -> tuple[str, list[Any]]:
    (expr, desc), *rest = sort
    op = "<" if desc else ">"
    if not rest:
        return f"{expr} {op} ?", [key[0]]
    inner, args = _strictly_after(tuple(rest), key[1:])
    return f"({expr} {op} ? OR ({expr} = ? AND {inner}))", [key[0], key[0], *args]


def _after_arms(sort: SortKey, key: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    """The rows after sort key ``key`` as index walks in order ``sort``.

    A sort of one direction ending in a table's rowid (the implicit last column of its
    indexes) is two walks: the ties of the key's leading values after its rowid, then what
    follows them. SQLite seeks an index by a row value only over its named columns, so one
    row-value condition would walk all the ties of the leading values from the top.
    """
    if len(sort) > 1 and sort[-1][0].endswith(".rowid") and len({desc for _, desc in sort}) == 1:
        lead, (rowid, desc) = sort[:-1], sort[-1]
        ties = " AND ".join(f"{expr} = ?" for expr, _ in lead)
        rest, more = after(lead, key[:-1])
        return [(f"{ties} AND {rowid} {'<' if desc else '>'} ?", list(key)), (rest, more)]
    return [after(sort, key)]


def keyset_statement(columns: str, source: str, filtered: tuple[str, list[Any]], sort: SortKey,
                     key: Sequence[Any] | None, arms: Arms = None) -> tuple[str, list[Any]]:
    """The SELECT of one keyset page in order ``sort`` after sort key ``key`` (if any); its
    last two parameters, the page's limit (plus one) and offset, are left for the caller.

    The rows of each of ``arms`` (and, after a key, of each walk of :func:`_after_arms`) are
    merged in the page's order: a compound SELECT whose ORDER BY SQLite answers by merging
    the arms' index walks, each stopping once the page is full.
    """
    where, args = filtered
    walks = [("", [])] if key is None else _after_arms(sort, key)
    alternatives = [(" AND ".join(c for c in (a, w) if c), [*a_args, *w_args])
                    for a, a_args in (arms or [("", [])]) for w, w_args in walks]
    if len(alternatives) == 1:
        condition, more = alternatives[0]
        if condition:
            where, args = (f"{where} AND {condition}" if where else f" WHERE {condition}"), [*args, *more]
        return (f"SELECT {columns}, {key_columns(sort)} FROM {source}{where} ORDER BY {order_by(sort)}"
                " LIMIT ? OFFSET ?", args)
    keys = ", ".join(f"{expr} AS k{n}" for n, (expr, _) in enumerate(sort))
    selects, all_args = [], []
    for condition, more in alternatives:
        conditions = f"{where} AND {condition}" if where else f" WHERE {condition}"
        selects.append(f"SELECT {columns}, {keys} FROM {source}{conditions}")
        all_args += [*args, *more]
    merged = ", ".join(f"k{n} {'DESC' if desc else 'ASC'}" for n, (_, desc) in enumerate(sort))
    return f"{' UNION ALL '.join(selects)} ORDER BY {merged} LIMIT ? OFFSET ?", all_args


def page_of(rows: list[sqlite3.Row], limit: int, sort: SortKey) -> tuple[list[sqlite3.Row], tuple[Any, ...] | None]:
    """A page's rows out of up to ``limit + 1`` read, and the sort key of its last row when more follow."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, tuple(rows[-1])[-len(sort):]


def keyset_page(conn: sqlite3.Connection, columns: str, source: str, filtered: tuple[str, list[Any]], sort: SortKey,
                limit: int, offset: int, key: Sequence[Any] | None) -> tuple[list[sqlite3.Row], tuple[Any, ...] | None]:
    """One page of rows in order ``sort``, starting after sort key ``key`` (if any), then ``offset``.

    Args:
        columns: the result columns; the sort key's columns are appended.
        source: the table (and alias) after FROM.
        filtered: the WHERE clause (``" WHERE ..."`` or ``""``) and its arguments.

    Returns:
        The page's rows and, when more rows follow, the sort key of its last row.
    """
    sql, args = keyset_statement(columns, source, filtered, sort, key)
    return page_of(conn.execute(sql, (*args, limit + 1, offset)).fetchall(), limit, sort)
