"""Background WAL checkpoints for a market file.

In WAL mode every commit appends the pages it changed to the ``-wal`` file, and a
checkpoint copies them back into the database. SQLite's default runs that copy inside
whichever commit crosses 1,000 pages, so that one operation pays for the others. As
SQLite's documentation suggests for such cases, each file store runs the checkpoints
from a thread of its own instead (``PASSIVE``: they never block a writer or a reader),
and the writers' automatic checkpoint stays only as a safety net far above it.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref

#: How often the thread looks for new WAL pages to copy back.
CHECKPOINT_INTERVAL_S = 0.1


class Checkpointer:
    """A daemon thread that checkpoints one database file until stopped.

    Args:
        path: the database file.
        owner: the object whose lifetime bounds the thread's: it stops when ``owner`` is
            garbage-collected, even if :meth:`stop` was never called.
    """

    def __init__(self, path: str, owner: object) -> None:
        self._path = path
        self._lock = threading.Lock()  # one checkpoint at a time: the thread's or run_now's
        self._stopping = threading.Event()
        weakref.finalize(owner, self._stopping.set)
        self._thread = threading.Thread(target=self._run, name=f"checkpoint {path}", daemon=True)
        self._thread.start()

    def run_now(self, conn: sqlite3.Connection) -> None:
        """Checkpoint on ``conn`` now, after any checkpoint the thread has under way."""
        with self._lock:
            _checkpoint(conn)

    def stop(self) -> None:
        """Checkpoint once more and end the thread."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            while not self._stopping.wait(CHECKPOINT_INTERVAL_S):
                with self._lock:
                    _checkpoint(conn)
            with self._lock:
                _checkpoint(conn)
        finally:
            conn.close()


def _checkpoint(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        pass  # busy or the file went away; the next round (or the writers' safety net) catches up
