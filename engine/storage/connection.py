"""SQLite connections and transactions (:class:`~.repositories.Store`): WAL, a busy timeout,
a bounded pool of connections."""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlite_utils import Database

from ._search import CappedTexts
from .checkpointer import Checkpointer
from .schema import migrate
from .transaction import SQLiteTx

BUSY_TIMEOUT_MS = 30_000
#: Connections that only read PRAGMA data_version, shared out among threads.
WATCH_CONNECTIONS = 4
#: Connections a file store opens at most; a transaction waits for a free one.
POOL_SIZE = 16
#: Owner read and write only: the file holds webhook secrets, emails and prompts.
FILE_MODE = 0o600
#: The writers' own checkpoint, a safety net should the background checkpointer fall behind.
WAL_AUTOCHECKPOINT_PAGES = 10_000
#: A pooled connection and the repositories made once for it.
_Lent = tuple[sqlite3.Connection, SQLiteTx]


class SQLiteStore:
    """Owns the connections to one market database.

    A file market lends each transaction a connection (with its repositories, made once
    per connection) from a pool of at most ``pool_size`` (a connection is never shared
    mid-transaction), so the number of open files does not grow with the number of
    threads (e.g. a server's idle clients).
    ``":memory:"`` has a single connection guarded by a lock, since each new in-memory
    connection would be a new database.

    The file and its ``-wal`` and ``-shm`` files are created with mode 0600, and an
    existing file is tightened to it.
    """

    def __init__(self, path: str | Path = ":memory:", *, pool_size: int = POOL_SIZE) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self._idle: list[_Lent] = []
        self._slots = threading.BoundedSemaphore(pool_size)
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._memory_lock = threading.RLock()
        self._memory: _Lent | None = None
        self._closed = False
        self._pinned = threading.local()  # the connection a batch holds in this thread
        # Watcher connections for data_version, each thread keeping to one (a connection's
        # data_version is its own count); several, so that server threads do not queue on one lock.
        self._watches: list[tuple[threading.Lock, list[sqlite3.Connection]]] = [
            (threading.Lock(), []) for _ in range(WATCH_CONNECTIONS)]
        self._watch_of_thread = threading.local()
        self._next_watch = itertools.count()
        if not self.memory:
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            _private_files(self.path)
        with self._lent() as (conn, _):
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

    def _borrow(self) -> _Lent:
        """A connection and its repositories for one transaction; give them back with :meth:`_give_back`.

        Raises:
            sqlite3.OperationalError: no connection came free within the busy timeout.
        """
        if self.memory:
            if self._memory is None:
                self._memory = _lend(self._open())
            return self._memory
        pinned = getattr(self._pinned, "lent", None)
        if pinned is not None:  # inside this thread's batch: its transaction is the one
            if not pinned[0].in_transaction:  # SQLite rolled it back (e.g. disk full): nothing may go on alone
                raise sqlite3.OperationalError("this thread's batch transaction was rolled back")
            return pinned
        if self._closed:
            raise sqlite3.ProgrammingError("the market is closed")
        if not self._slots.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise sqlite3.OperationalError("every database connection stayed busy")
        try:
            return self._idle.pop()
        except IndexError:
            pass
        try:
            return _lend(self._open())
        except BaseException:
            self._slots.release()
            raise

    def _give_back(self, lent: _Lent) -> None:
        if self.memory or lent is getattr(self._pinned, "lent", None):
            return
        if self._closed:
            lent[0].close()  # lent out when the store closed: closed by its last user, never under it
        else:
            self._idle.append(lent)
        self._slots.release()

    @contextmanager
    def _lent(self) -> Iterator[_Lent]:
        with self._guard():
            lent = self._borrow()
            try:
                yield lent
            finally:
                self._give_back(lent)

    def write(self) -> _WriteTransaction:
        """One ``BEGIN IMMEDIATE`` transaction: committed whole, or rolled back on any error."""
        return _WriteTransaction(self)

    def claiming_write(self) -> _WriteTransaction:
        """A write transaction: on SQLite every write takes its turn (one writer per file)."""
        return _WriteTransaction(self)

    def batch(self) -> AbstractContextManager[None]:
        """Group this thread's transactions inside the block into one.

        Each write inside becomes a savepoint of the batch's transaction (still
        all-or-nothing on its own); the block commits them together at its end, or
        rolls every one back if it raises. The batch holds one connection for its
        thread, and other writers wait meanwhile.
        """
        return self._pin("BEGIN IMMEDIATE", writes=True)

    def snapshot(self) -> AbstractContextManager[None]:
        """Read everything this thread reads inside the block from one snapshot.

        Every ``read()`` inside shares one read transaction (and one connection), so a
        request's reads (who is calling, the answer, the balance) agree with each other.
        A ``write()`` inside raises ``sqlite3.ProgrammingError``: a snapshot is for reads.
        Inside a batch, the batch's transaction is the snapshot.
        """
        return self._pin("BEGIN", writes=False)

    @contextmanager
    def _pin(self, begin: str, *, writes: bool) -> Iterator[None]:
        """Hold one connection for this thread with one transaction (``begin``) around the block."""
        with self._guard():
            if getattr(self._pinned, "lent", None) is not None:  # already pinned: the outer block ends it
                yield
                return
            lent = self._borrow()
            self._pinned.lent = lent
            self._pinned.writes = writes
            capped = lent[1].tasks.capped
            if capped is not None:  # a batch may roll back: what its reads see is not learnt
                capped.learning = not writes
            try:
                lent[0].execute(begin)
                try:
                    yield
                except BaseException:
                    lent[0].execute("ROLLBACK")
                    raise
                lent[0].execute("COMMIT")
            finally:
                self._pinned.lent = None
                if capped is not None:
                    capped.learning = True
                self._give_back(lent)

    @contextmanager
    def read(self) -> Iterator[SQLiteTx]:
        """A read transaction: one consistent snapshot for every query inside it."""
        with self._lent() as (conn, tx):
            if conn.in_transaction:  # inside a batch: its transaction is the snapshot
                yield tx
                return
            conn.execute("BEGIN")
            try:
                yield tx
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

        Cheap enough to poll many times a second; used to refresh live views. It is read
        on a connection of its own that never writes, so every commit bumps it.
        """
        if self.memory:
            with self._guard():
                return self._borrow()[0].execute("PRAGMA data_version").fetchone()[0]
        slot = getattr(self._watch_of_thread, "slot", None)
        if slot is None:
            slot = self._watch_of_thread.slot = next(self._next_watch) % WATCH_CONNECTIONS
        lock, opened = self._watches[slot]
        with lock:
            if not opened:
                opened.append(self._open())
            return opened[0].execute("PRAGMA data_version").fetchone()[0]

    def rate_buckets(self) -> None:
        """None: on one machine the server keeps the allowances (in shared memory across ``--workers``)."""
        return None

    def checkpoint(self) -> None:
        """Copy every committed change from the WAL into the database file now."""
        if self._checkpointer is None:
            return  # in memory: there is no WAL
        with self._lent() as (conn, _):
            self._checkpointer.run_now(conn)

    def close(self) -> None:
        """Close every connection this store opened (after a last checkpoint); one lent to a
        transaction still running closes when that transaction ends."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()
        for lock, opened in self._watches:
            with lock:
                while opened:
                    opened.pop().close()
        with self._memory_lock:
            if self._memory is not None:
                self._memory[0].close()
                self._memory = None
        with self._all_lock:
            self._all = []


class _WriteTransaction:
    """The context manager behind :meth:`SQLiteStore.write`.

    A plain class rather than ``@contextmanager``: writes are the engine's hot path
    and a generator-based manager costs several extra calls per transaction.
    """

    __slots__ = ("_store", "_lent", "_lock", "_nested")

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._lock = store._memory_lock if store.memory else None

    def __enter__(self) -> SQLiteTx:
        if self._lock is not None:
            self._lock.acquire()
        lent = None
        try:
            lent = self._lent = self._store._borrow()
            self._nested = lent[0].in_transaction  # inside SQLiteStore.batch (or a snapshot)
            if self._nested and not getattr(self._store._pinned, "writes", True):
                raise sqlite3.ProgrammingError("a write inside a read snapshot")
            lent[0].execute("SAVEPOINT write" if self._nested else "BEGIN IMMEDIATE")
        except BaseException:
            if lent is not None:
                self._store._give_back(lent)
            if self._lock is not None:
                self._lock.release()
            raise
        return lent[1]

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        try:
            conn = self._lent[0]
            if not self._nested:
                conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
            else:
                if exc_type is not None:
                    conn.execute("ROLLBACK TO write")
                conn.execute("RELEASE write")
        finally:
            self._store._give_back(self._lent)
            if self._lock is not None:
                self._lock.release()
        return False


def _private_files(path: str) -> None:
    """Create the market file 0600 if missing and tighten it and its WAL and SHM files.

    SQLite creates ``-wal`` and ``-shm`` with the main file's permissions, so a 0600
    main file gives 0600 companions.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            os.chmod(name, FILE_MODE)
        except FileNotFoundError:
            pass


def _lend(conn: sqlite3.Connection) -> _Lent:
    tx = SQLiteTx(conn)
    tx.tasks.capped = CappedTexts()  # per connection: a connection is one file's
    return conn, tx
