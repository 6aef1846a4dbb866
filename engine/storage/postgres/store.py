"""A market in a PostgreSQL database (:class:`~..repositories.Store`): a psycopg pool,
one transaction per operation, and LISTEN/NOTIFY for live views on every node.

Isolation. Every write transaction runs at READ COMMITTED and first takes one
transaction-level advisory lock (:data:`.schema.WRITE_LOCK`; all but :meth:`~PostgresStore.claiming_write`'s,
which change only rows they locked themselves), so writers take turns across
every node sharing the database exactly as SQLite's ``BEGIN IMMEDIATE`` makes them take
turns on a file. Each statement of a READ COMMITTED transaction sees everything committed
before it, and nothing can commit between a rule's check and the change it guards (no
other writer runs), so every rule the services check holds as under SQLite, and the
database never answers a serialization failure or a deadlock among writers: there is
nothing for callers to retry. What the store does retry is the start of a transaction on a
pooled connection that turns out to be dead (the server restarted): no statement of the
operation has run yet, so it is safe to take another connection and begin again.
Reads run at REPEATABLE READ, READ ONLY: one snapshot for every query inside (a page and
its total agree), and never waiting for a writer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool

from ...errors import SchemaTooNew, ServiceUnavailable
from ._dialect import PgConnection, translated
from .rate_buckets import PgRateBuckets
from .repositories import PgTx
from .schema import WRITE_LOCK, migrate

#: Connections one process opens at most; a transaction waits for a free one.
POOL_SIZE = 16
#: Seconds a transaction waits for a connection (and a new connection for the server)
#: before the operation fails with ServiceUnavailable (503).
CONNECT_TIMEOUT = 5
#: The channel every committed write notifies; each node's watcher listens to it.
CHANNEL = "agentmarket_changes"
_BEGIN_CLAIM = "BEGIN ISOLATION LEVEL READ COMMITTED"
_BEGIN_WRITE = f"{_BEGIN_CLAIM}; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "the PostgreSQL URL given"


class PostgresStore:
    """Owns the connections to one market database on a PostgreSQL server.

    Args:
        url: ``postgresql://user:password@host:port/dbname`` (libpq's URL; query
            parameters such as ``sslmode`` pass through).
        pool_size: connections this process opens at most.

    Raises:
        ServiceUnavailable: the URL is malformed, the server cannot be reached or refuses
            the login, or the database holds a schema of a newer AgentMarket (the message
            is one line naming the database, without its password).
    """

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.path = redacted(url)
        self._url = url
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                migrate(conn)
        except SchemaTooNew as exc:
            raise SchemaTooNew(f"{self.path}: {exc.message}") from None
        except (psycopg.Error, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ServiceUnavailable(f"cannot open the market at {self.path}: {reason}") from None
        self._pool = ConnectionPool(
            url, connection_class=PgConnection, min_size=1, max_size=pool_size, timeout=CONNECT_TIMEOUT,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "application_name": "agentmarket"},
            name="agentmarket", open=True,
        )
        self._rate_buckets = PgRateBuckets(self._pool)
        self._pinned = threading.local()  # the connection a batch holds in this thread
        self._version_lock = threading.Lock()
        self._watcher_lock = threading.Lock()
        self._version = 0
        self._watcher: _Watcher | None = None
        self._closed = False

    # -- connections ------------------------------------------------------------------
    def _begin(self, begin: str) -> tuple[PgConnection, PgTx]:
        """A pooled connection inside a fresh transaction, and its repositories.

        A connection the server dropped while it sat in the pool fails at BEGIN, before
        anything of the operation ran: it is thrown away and another one tried.

        Raises:
            ServiceUnavailable: no working connection within :data:`CONNECT_TIMEOUT`.
        """
        if self._closed:
            raise ServiceUnavailable("the market is closed")
        for _ in range(POOL_SIZE + 1):
            try:
                conn: PgConnection = self._pool.getconn()
            except psycopg.Error as exc:  # PoolTimeout: the server is away
                raise translated(exc) from exc
            try:
                psycopg.Connection.execute(conn, begin)
            except psycopg.OperationalError:
                self._pool.putconn(conn)  # broken: the pool discards it
                continue
            except BaseException:
                self._pool.putconn(conn)
                raise
            conn.wrote = False
            tx = getattr(conn, "market_tx", None)
            if tx is None:
                tx = conn.market_tx = PgTx(conn)  # type: ignore[attr-defined]
            return conn, tx
        raise ServiceUnavailable("the market's database is unreachable; retry later")

    def _end(self, conn: PgConnection, commit: bool, announce: bool = True) -> None:
        """Commit (telling every node when something was written, if ``announce``) or roll back,
        and give the connection back."""
        try:
            if commit:
                wrote = conn.wrote and announce
                try:
                    psycopg.Connection.execute(conn, f"NOTIFY {CHANNEL}; COMMIT" if wrote else "COMMIT")
                except psycopg.Error as exc:
                    raise translated(exc) from exc
                if wrote:
                    self._changed()
            else:
                with suppress(psycopg.Error):
                    psycopg.Connection.execute(conn, "ROLLBACK")
        finally:
            self._pool.putconn(conn)

    # -- transactions ----------------------------------------------------------------------
    def write(self) -> _WriteTransaction:
        """One write transaction (writers take turns on every node), committed whole or rolled back."""
        return _WriteTransaction(self, _BEGIN_WRITE)

    def claiming_write(self) -> _WriteTransaction:
        """A write transaction without the writers' turn, for rows locked by their claimer
        (``FOR UPDATE SKIP LOCKED``): nodes claim and settle webhook deliveries at once, and
        beside the writers. Nothing in it is announced: it changes no row a live view shows."""
        return _WriteTransaction(self, _BEGIN_CLAIM)

    @contextmanager
    def read(self) -> Iterator[PgTx]:
        """A read transaction: one consistent snapshot for every query inside it."""
        pinned = getattr(self._pinned, "lent", None)
        if pinned is not None:  # inside a batch: its transaction is the snapshot
            yield pinned[1]
            return
        conn, tx = self._begin(_BEGIN_READ)
        ok = False
        try:
            yield tx
            ok = True
        finally:
            self._end(conn, commit=ok)

    def batch(self) -> AbstractContextManager[None]:
        """Group this thread's transactions inside the block into one (each write a savepoint of it)."""
        return self._pin(_BEGIN_WRITE, writes=True)

    def snapshot(self) -> AbstractContextManager[None]:
        """Read everything this thread reads inside the block from one snapshot (a write inside raises)."""
        return self._pin(_BEGIN_READ, writes=False)

    @contextmanager
    def _pin(self, begin: str, *, writes: bool) -> Iterator[None]:
        """Hold one connection for this thread with one transaction (``begin``) around the block."""
        if getattr(self._pinned, "lent", None) is not None:  # already pinned: the outer block ends it
            yield
            return
        lent = self._begin(begin)
        self._pinned.lent, self._pinned.writes = lent, writes
        ok = False
        try:
            yield
            ok = True
        finally:
            self._pinned.lent = None
            self._end(lent[0], commit=ok)

    # -- live views ------------------------------------------------------------------------
    def _changed(self) -> None:
        with self._version_lock:
            self._version += 1

    def data_version(self) -> int:
        """A number that changes whenever any node commits a change to this market.

        This process's own commits count at once; other nodes' arrive by LISTEN/NOTIFY on a
        connection of its own, started on the first call.

        Raises:
            ServiceUnavailable: the database cannot be reached (so nothing may be served
                as unchanged).
        """
        if self._watcher is None:
            with self._watcher_lock:
                if self._watcher is None:
                    self._watcher = _Watcher(self._url, self._changed)
        if not self._watcher.listening:
            raise ServiceUnavailable("the market's database is unreachable; retry later")
        return self._version

    def rate_buckets(self) -> PgRateBuckets:
        """The per-key allowances in the database, spent by every node."""
        return self._rate_buckets

    def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL makes each commit durable itself."""

    def close(self) -> None:
        """Close every connection (a transaction still running finishes first)."""
        self._closed = True
        if self._watcher is not None:
            self._watcher.stop()
        self._pool.close()


class _WriteTransaction:
    """The context manager behind :meth:`PostgresStore.write` (a savepoint inside a batch)."""

    __slots__ = ("_store", "_begin", "_lent", "_nested")

    def __init__(self, store: PostgresStore, begin: str) -> None:
        self._store = store
        self._begin = begin

    def __enter__(self) -> PgTx:
        pinned = getattr(self._store._pinned, "lent", None)
        self._nested = pinned is not None
        if pinned is not None:
            if not getattr(self._store._pinned, "writes", True):
                raise psycopg.ProgrammingError("a write inside a read snapshot")
            pinned[0].execute("SAVEPOINT write")
            self._lent = pinned
        else:
            self._lent = self._store._begin(self._begin)
        return self._lent[1]

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        conn = self._lent[0]
        if not self._nested:
            self._store._end(conn, commit=exc_type is None, announce=self._begin is _BEGIN_WRITE)
        elif exc_type is not None:
            conn.execute("ROLLBACK TO SAVEPOINT write")
            conn.execute("RELEASE SAVEPOINT write")
        else:
            conn.execute("RELEASE SAVEPOINT write")
        return False


class _Watcher:
    """A thread listening on :data:`CHANNEL`: every notification means another commit.

    While its connection is down it reconnects every half second and reports
    ``listening`` False meanwhile.
    """

    def __init__(self, url: str, changed: Any) -> None:
        self._url = url
        self._changed = changed
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self.listening = False
        self._connect()  # the first time in the caller's thread: data_version answers at once
        self._thread = threading.Thread(target=self._run, name="agentmarket-pg-listen", daemon=True)
        self._thread.start()

    def _connect(self) -> None:
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            self.listening = False
            return
        self._conn = conn
        self.listening = True
        self._changed()  # whatever happened while nobody listened

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = self._conn
            if conn is None or not self.listening:
                self._stop.wait(0.5)
                self._connect()
                continue
            try:
                for _ in conn.notifies(timeout=1.0):
                    self._changed()
            except psycopg.Error:
                self.listening = False
                with suppress(psycopg.Error):
                    conn.close()
                self._conn = None
                if not self._stop.is_set():
                    time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
