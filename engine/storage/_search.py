"""Text search (SPEC §12): an FTS5 trigram index over tasks' title and description and agents'
name and description, kept in step by triggers (schema migration 11).

The user's text is taken literally, as a substring in any case (as the LIKE search before it
did): it is passed to FTS5 as one quoted phrase, so no text is FTS5 syntax and none can be
a syntax error. The trigram index needs at least three characters; shorter text is matched
with LIKE, which walks the table (cheap for the short, common strings it serves, and its
total is capped like every search's).
"""

from __future__ import annotations

from collections.abc import Callable

from ._like import contains_pattern

#: A search condition's builder: (text, alias, index table, columns) -> (SQL, arguments).
Condition = Callable[[str, str, str, tuple[str, ...]], tuple[str, list[str]]]

#: The fewest characters the trigram index can look up.
MIN_INDEXED = 3


def phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: matched literally, never read as query syntax."""
    return '"' + text.replace('"', '""') + '"'


def condition(text: str, alias: str, fts_table: str, columns: tuple[str, ...]) -> tuple[str, list[str]]:
    """A WHERE condition (and its arguments) selecting rows of ``alias`` whose ``columns``
    contain ``text`` in any case."""
    if len(text) >= MIN_INDEXED:
        return f"{alias}.rowid IN (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH ?)", [phrase(text)]
    pattern = contains_pattern(text)
    return "(" + " OR ".join(f"{alias}.{c} LIKE ? ESCAPE '\\'" for c in columns) + ")", [pattern] * len(columns)


class CappedTexts:
    """Search texts whose capped total (``cap`` matches among all tasks, no other filter) was
    reached: it stays reached, so it need not be counted again.

    A task's title and description never change and tasks are never deleted (schema triggers,
    migration 25), so new tasks can only add matches. What a transaction that may still roll
    back saw is not learnt (:attr:`learning` is off in a batch). The newest ``size`` texts are
    kept. One belongs to one connection, which one thread uses at a time.
    """

    __slots__ = ("_reached", "_size", "learning")

    def __init__(self, size: int = 4096) -> None:
        self._reached: dict[str, int] = {}
        self._size = size
        self.learning = True

    def reached(self, text: str, cap: int) -> bool:
        """Whether ``text`` is known to match at least ``cap`` tasks."""
        return self._reached.get(text, 0) >= cap

    def add(self, text: str, cap: int) -> None:
        """Remember that ``text`` matches at least ``cap`` tasks (if learning); past ``size``
        texts, the oldest is forgotten."""
        if not self.learning:
            return
        self._reached[text] = cap
        if len(self._reached) > self._size:
            del self._reached[next(iter(self._reached))]
