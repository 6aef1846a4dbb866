"""The engine's own SQL without the engine: record every statement a run executes, replay it bare.

What a replay measures is the cost of exactly the rows, indexes and triggers the engine
writes (its statements with their arguments, in order, on its schema), with none of its
Python: the most any change to the engine's Python could reach. ``simulate_bench.py`` shows
it beside the floors.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: One recorded call: (many?, sql, arguments or rows).
Call = tuple[bool, str, Any]


@contextmanager
def recording() -> Iterator[list[Call]]:
    """Record the statements this thread's new SQLite connections execute inside the block."""
    calls: list[Call] = []
    thread = threading.get_ident()

    class Recording(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
            if threading.get_ident() == thread:
                calls.append((False, sql, parameters))
            return super().execute(sql, parameters)

        def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
            rows = list(parameters)
            if threading.get_ident() == thread:
                calls.append((True, sql, rows))
            return super().executemany(sql, rows)

    connect = sqlite3.connect

    def recorded(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", Recording)
        return connect(*args, **kwargs)

    sqlite3.connect = recorded  # type: ignore[assignment]
    try:
        yield calls
    finally:
        sqlite3.connect = connect  # type: ignore[assignment]


def replay(conn: sqlite3.Connection, calls: list[Call], timer: Callable[[], float] = time.perf_counter) -> float:
    """Execute ``calls`` on ``conn`` in order (fetching every row, as the engine does) and
    return the seconds they took."""
    execute, executemany = conn.execute, conn.executemany
    started = timer()
    for many, sql, parameters in calls:
        if many:
            executemany(sql, parameters)
        else:
            execute(sql, parameters).fetchall()
    return timer() - started
