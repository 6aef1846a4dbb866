"""Text search with SQL LIKE, with the user's text taken literally."""

from __future__ import annotations


def contains_pattern(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching any value that contains ``text``.

    ``%`` and ``_`` in the text match themselves, not any characters.
    """
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
