"""Group commit: many threads' write operations, committed together by one writer thread.

A thread hands :meth:`GroupCommit.run` an operation (e.g. a server's whole ``POST /api/tasks``:
its idempotency claim, the post, the stored answer) and waits. The writer thread takes
every operation waiting at that moment (up to ``max_batch``) and runs them one after the
other inside one batch transaction (``Store.batch``): each of the operation's writes is a
savepoint of it, so an operation that raises rolls back only itself. It then commits once
and only then wakes each waiting thread with its own result or error. So:

- nothing is answered before it is in the file; a crash before the commit loses the whole
  batch, and none of its callers has been answered;
- under load the writers stop taking turns at SQLite's lock (with busy-waits) and the
  pages they share (a wallet, the counters, the newest index pages) are written once per
  batch instead of once per operation;
- one operation at a time runs, in arrival order, so rules checked inside a transaction
  (a balance that must cover a budget) hold exactly as they did.

A store that cannot batch (``batch`` absent) runs each operation directly: the seam
another store may bypass.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

log = logging.getLogger("agentmarket.market")

T = TypeVar("T")
#: Operations one batch takes at most (the write lock is held while they run).
MAX_BATCH = 64


class _Job(Generic[T]):
    __slots__ = ("operation", "result", "error", "done")

    def __init__(self, operation: Callable[[], T]) -> None:
        self.operation = operation
        self.result: T | None = None
        self.error: BaseException | None = None
        # Held until the job is done: a bare lock's release is far cheaper for the writer
        # thread than an Event's notify (the profile of 64 waiting clients showed it).
        self.done = threading.Lock()
        self.done.acquire()


class GroupCommit:
    """Runs write operations in batches on one writer thread (see the module's docstring).

    Args:
        batch: opens one transaction that the writer thread's writes join as savepoints
            (``Store.batch``); None: run every operation directly in the calling thread.
        max_batch: operations one batch takes at most.
    """

    def __init__(self, batch: Callable[[], AbstractContextManager[Any]] | None, *, max_batch: int = MAX_BATCH) -> None:
        self._batch = batch
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._closed = False

    def run(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` in the next batch and return (or raise) what it did, once its
        batch is committed.

        Raises:
            Whatever ``operation`` raised (its writes rolled back); or what the batch's
            commit raised (then nothing of the batch happened).
        """
        if self._batch is None or self._closed or threading.current_thread() is self._writer:
            return operation()  # no batching here, or already inside the writer's batch
        job = _Job(operation)
        self._jobs.put(job)
        if self._writer is None:
            self._start()
        job.done.acquire()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def close(self) -> None:
        """Finish the operations already handed in, then end the writer thread."""
        with self._lock:
            self._closed = True
            writer = self._writer
        if writer is not None:
            self._jobs.put(None)
            writer.join()

    def _start(self) -> None:
        with self._lock:
            if self._writer is None and not self._closed:
                self._writer = threading.Thread(target=self._write_forever, name="group-commit", daemon=True)
                self._writer.start()

    def _write_forever(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            jobs = [first]
            while len(jobs) < self._max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            self._run_batch(jobs)

    def _run_batch(self, jobs: list[_Job[Any]]) -> None:
        assert self._batch is not None
        try:
            with self._batch():
                for job in jobs:
                    try:
                        job.result = job.operation()
                    except Exception as exc:  # its savepoint is rolled back; the others stand
                        job.error = exc
        except BaseException as exc:  # the batch did not commit: none of its operations happened
            log.warning("a group commit of %d operations failed: %s", len(jobs), exc)
            for job in jobs:
                job.result, job.error = None, exc
        finally:
            for job in jobs:
                job.done.release()
