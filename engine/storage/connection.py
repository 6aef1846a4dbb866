"""SQLite connections and transactions (:class:`~.repositories.Store`): WAL, a busy timeout,\none connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from .checkpointer import Checkpointer
from .transaction import SQLiteTx
from .schema import migrate

BUSY_TIMEOUT_MS = 30_000
#: The writers' own checkpoint, a safety net should the background checkpointer fall behind.
WAL_AUTOCHECKPOINT_PAGES = 10_000


class SQLiteStore:
    """Owns the connections to one market database.

    A file market gives every thread its own connection (SQLite connections must not
    be shared across threads mid-transaction); ``":memory:"`` has a single connection
    guarded by a lock, since each new in-memory connection would be a new database.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._memory_lock = threading.RLock()
        self._memory_conn: sqlite3.Connection | None = None
        self._memory_tx: SQLiteTx | None = None
        if not self.memory:
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        conn = self._connection()
        migrate(Database(conn))
        # Copying WAL pages back into the file is this thread's work, not the writers'.
        self._checkpointer = None if self.memory else Checkpointer(self.path, self)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # each thread uses its own; close() may run anywhere
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not self.memory:
            conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives a killed process (it is in the WAL);
        # only an OS crash or power loss can lose the newest commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self.memory:
            if self._memory_conn is None:
                self._memory_conn = self._open()
                self._memory_tx = SQLiteTx(self._memory_conn)
            return self._memory_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
            self._local.tx = SQLiteTx(conn)
        return conn

    def _repositories(self) -> SQLiteTx:
        """The repositories on the connection :meth:`_connection` returned last in this thread."""
        return self._memory_tx if self.memory else self._local.tx  # type: ignore[return-value]

    def write(self) -> _WriteTransaction:
        """One ``BEGIN IMMEDIATE`` transaction: committed whole, or rolled back on any error.

        Inside :meth:`batch` it is a savepoint of the batch's transaction instead: an
        error still undoes all of this write and nothing else.
        """
        return _WriteTransaction(self)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group this thread's writes into one transaction, committed when the block ends.

        Each write inside stays atomic on its own (a savepoint); the block commits them
        together, or rolls every one back if it raises. Other writers wait meanwhile.
        """
        with self._guard():
            conn = self._connection()
            if conn.in_transaction:  # already batching: the outer batch commits
                yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[SQLiteTx]:
        """A read transaction: one consistent snapshot for every query inside it."""
        with self._guard():
            conn = self._connection()
            if conn.in_transaction:  # inside a batch: its transaction is the snapshot
                yield self._repositories()
                return
            conn.execute("BEGIN")
            try:
                yield self._repositories()
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def _guard(self) -> Iterator[None]:
        if self.memory:
            with self._memory_lock:
                yield
        else:
            yield

    def data_version(self) -> int:
        """A number that changes whenever another connection commits a change.

        Cheap enough to poll many times a second; used to refresh live views.
        Changes made through this thread's own connection do not bump it.
        """
        with self._guard():
            return self._connection().execute("PRAGMA data_version").fetchone()[0]

    def checkpoint(self) -> None:
        """Copy every committed change from the WAL into the database file now."""
        with self._guard():
            if self._checkpointer is None:
                return  # in memory: there is no WAL
            self._checkpointer.run_now(self._connection())

    def close(self) -> None:
        """Close every connection this store opened (after a last checkpoint)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.ProgrammingError:
                pass  # made in another thread; it closes when that thread's local dies
        self._memory_conn = None
        self._memory_tx = None
        self._local = threading.local()


class _WriteTransaction:
    """The context manager behind :meth:`SQLiteStore.write`.

    A plain class rather than ``@contextmanager``: writes are the engine's hot path
    and a generator-based manager costs several extra calls per transaction.
    """

    __slots__ = ("_store", "_conn", "_lock", "_nested")

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._lock = store._memory_lock if store.memory else None

    def __enter__(self) -> SQLiteTx:
        if self._lock is not None:
            self._lock.acquire()
        try:
            conn = self._conn = self._store._connection()
            self._nested = conn.in_transaction  # inside SQLiteStore.batch
            conn.execute("SAVEPOINT write" if self._nested else "BEGIN IMMEDIATE")
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        return self._store._repositories()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        try:
            if not self._nested:
                self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
            else:
                if exc_type is not None:
                    self._conn.execute("ROLLBACK TO write")
                self._conn.execute("RELEASE write")
        finally:
            if self._lock is not None:
                self._lock.release()
        return False
