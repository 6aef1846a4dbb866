"""The same-rows floor of ``POST /api/tasks``: bare sqlite3 running exactly the statements
(and so the rows, indexes and triggers) the server runs for a valid post, with none of the
server's Python.

:func:`capture_posts` serves a copy of a market from this process and records every
statement the server's connections run for each of ``count`` posts (with their parameters);
:func:`replay` runs them with one bare sqlite3 connection on another copy made before the
capture (so the inserts are new there), leaving out the server's transaction control and
committing every ``per_transaction`` posts: one transaction a post, or the batches group
commit makes under load. The result is the most posts a second one writer can reach on
this machine with the engine's schema.

Used by ``benchmarks/http_bench.py`` (its ``floor`` rows).
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.server import running_server

#: One statement as run: SQL, parameters, whether through executemany.
Statement = tuple[str, Any, bool]
#: The threads that run a request's statements: its connection's thread, the group-commit writer.
_REQUEST_THREADS = ("http-", "group-commit")
_CONTROL = ("BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE")


class _Recording(sqlite3.Connection):
    """A connection that appends what it executes to ``_Recording.log`` while it is a list."""

    log: list[Statement] | None = None
    lock = threading.Lock()

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self._record(sql, parameters, False)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        parameters = list(parameters)
        self._record(sql, parameters, True)
        return super().executemany(sql, parameters)

    @classmethod
    def _record(cls, sql: str, parameters: Any, many: bool) -> None:
        # Only a request's threads: not the sweeps', the checkpointer's or the delivery worker's.
        if cls.log is not None and threading.current_thread().name.startswith(_REQUEST_THREADS):
            with cls.lock:
                cls.log.append((sql, parameters, many))


@contextmanager
def _recording_connections() -> Iterator[None]:
    """Every sqlite3 connection opened meanwhile (in this process) is a :class:`_Recording`."""
    original = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return original(*args, **{**kwargs, "factory": _Recording})

    sqlite3.connect = connect  # type: ignore[assignment]
    try:
        yield
    finally:
        sqlite3.connect = original  # type: ignore[assignment]


def capture_posts(db: Path, api_key: str, body: str, count: int) -> list[list[Statement]]:
    """Serve ``db`` from this process and post ``body`` ``count`` times with ``api_key``, one
    after the other; the statements each post ran (warm-up posts first, not recorded)."""
    posts: list[list[Statement]] = []
    with _recording_connections(), running_server(db, allow_private_urls=False, deliver_webhooks=False) as served:
        host, port = served.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port))
        headers = {"Content-Type": "application/json", "X-API-Key": api_key}
        for n in range(20 + count):
            statements: list[Statement] = []
            _Recording.log = statements if n >= 20 else None
            connection.request("POST", "/api/tasks", body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 201:
                raise RuntimeError(f"a post to capture was answered {answer.status}")
            _Recording.log = None
            if n >= 20:
                posts.append(statements)
        connection.close()
    return posts


def replay(db: Path, posts: list[list[Statement]], per_transaction: int) -> float:
    """Run ``posts``' statements on ``db`` with bare sqlite3 (the engine's pragmas), committing
    every ``per_transaction`` posts; posts per second."""
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        conn.execute(f"PRAGMA {pragma}").fetchall()
    work = [[s for s in post if not s[0].lstrip().upper().startswith(_CONTROL)] for post in posts]
    started = time.perf_counter()
    for first in range(0, len(work), per_transaction):
        conn.execute("BEGIN IMMEDIATE")
        for post in work[first:first + per_transaction]:
            for sql, parameters, many in post:
                (conn.executemany if many else conn.execute)(sql, parameters).fetchall()
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(work) / elapsed


def statements_per_post(posts: list[list[Statement]]) -> float:
    """Statements a post runs, transaction control left out (the mean over ``posts``)."""
    return sum(sum(not s[0].lstrip().upper().startswith(_CONTROL) for s in post) for post in posts) / len(posts)


if __name__ == "__main__":  # a look at what one post runs
    import shutil
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from engine import Market

    with tempfile.TemporaryDirectory() as tmp:
        first, second = Path(tmp) / "a.db", Path(tmp) / "b.db"
        with Market(first) as market:
            key = market.register_agent(name="P", capabilities=["x"], owner_email="p@example.com").api_key
        shutil.copy(first, second)
        captured = capture_posts(first, key, json.dumps({"title": "t", "budget": 1}), 50)
        for sql, parameters, many in captured[-1]:
            print(("many " if many else "") + " ".join(sql.split())[:160])
        print(f"{statements_per_post(captured):.1f} statements a post; "
              f"{replay(second, captured, 1):,.0f} posts/s one a transaction")
