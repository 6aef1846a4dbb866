"""A response cache for GETs, valid exactly while the market is unchanged.

A cached answer is reused only if nothing was committed since it was made:

- by any connection (server threads, other processes, the delivery worker): SQLite's
  ``PRAGMA data_version``, read on the store's own watcher connection, changes;
- and, to be safe whatever connection a write used, every request that may write (any
  method but GET and HEAD) bumps :meth:`ResponseCache.bump`.

Entries are per thread, a few hundred each.
Answers without an API key are cached by target, since those are the same for everyone;
answers to a key by its agent and target (the dispatcher checks the key first, every time).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable

MAX_ENTRIES_PER_THREAD = 256


class ResponseCache:
    """Cached response bodies keyed by request target, per thread.

    Args:
        data_version: returns the market's ``PRAGMA data_version``.
    """

    def __init__(self, data_version: Callable[[], int]) -> None:
        self._data_version = data_version
        self._generation = itertools.count()
        self._current = next(self._generation)
        self._local = threading.local()

    def bump(self) -> None:
        """Invalidate every thread's entries: something may have been written in this process."""
        self._current = next(self._generation)

    def _entries(self) -> OrderedDict[str, tuple[tuple[int, int], bytes]]:
        entries = getattr(self._local, "entries", None)
        if entries is None:
            entries = self._local.entries = OrderedDict()
        return entries

    def version(self) -> tuple[int, int]:
        """The market's state as this thread sees it now; read it before computing an answer."""
        return (self._current, self._data_version())

    def get(self, target: str, version: tuple[int, int]) -> bytes | None:
        """The cached body for ``target`` if it was made at ``version``."""
        entries = self._entries()
        found = entries.get(target)
        if found is None or found[0] != version:
            return None
        entries.move_to_end(target)
        return found[1]

    def put(self, target: str, version: tuple[int, int], body: bytes) -> None:
        """Remember ``body``, computed after ``version`` was read."""
        entries = self._entries()
        entries[target] = (version, body)
        entries.move_to_end(target)
        if len(entries) > MAX_ENTRIES_PER_THREAD:
            entries.popitem(last=False)
