"""JSON text of a record's fields, written by one function generated for the record type.

A list answers twenty records at a time. Building each one's dict and handing the dicts to
``json`` cost about 5.6 µs a task (``json``'s C encoder takes some 200 ns a member); a function
that writes the record's members straight into one f-string, its names as literal text, takes
2.8 µs. The text is what ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``
makes of the same members: strings escaped by the same function, integers as ``str``, None as
``null``, tuples as arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from json import JSONEncoder
from json.encoder import encode_basestring
from typing import Any, get_type_hints

#: A member's expression in the generated f-string, by the type of its attribute; ``{v}`` is the attribute.
_EXPRESSIONS: dict[Any, str] = {
    str: "_s({v})",
    int: "{v}",
    str | None: "'null' if (v := {v}) is None else _s(v)",
    int | None: "'null' if (v := {v}) is None else v",
    tuple[str, ...]: "'[' + ','.join(map(_s, {v})) + ']'",
}


class Json(str):
    """JSON text already written (e.g. a list of records); the server puts it in an answer as it is."""

    __slots__ = ()


_COMPACT = JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # made once: json.dumps with options makes one a call


def compact(value: Any) -> str:
    """``value`` as compact JSON text, non-ASCII characters as they are (``Json`` text as it is)."""
    return value if isinstance(value, Json) else _COMPACT.encode(value)


def members_writer(record: type, names: tuple[str, ...]) -> Callable[[Any], str]:
    """A function writing the members ``names`` of a ``record`` instance as JSON text.

    Args:
        record: a class whose fields (or properties) ``names`` are, typed ``str``, ``int``,
            ``str | None``, ``int | None`` or ``tuple[str, ...]`` (an int field must not hold a bool).
        names: the members, in the order written; each is the attribute of the same name.

    Returns:
        ``f(obj)``: ``'"name":value,...'``, the members without the object's braces, so that the
        caller can add others.

    Raises:
        TypeError: a member of a type it cannot write.
    """
    hints = get_type_hints(record)
    parts = []
    for name in names:
        member = getattr(record, name, None)
        hint = get_type_hints(member.fget)["return"] if isinstance(member, property) else hints[name]
        if hint not in _EXPRESSIONS:
            raise TypeError(f"{record.__name__}.{name}: no JSON writer for {hint}")
        parts.append(f'"{name}":{{{_EXPRESSIONS[hint].format(v=f"o.{name}")}}}')
    source = 'def write(o):\n    return f"""' + ",".join(parts) + '"""\n'
    namespace: dict[str, Any] = {"_s": encode_basestring}
    exec(compile(source, f"<JSON writer of {record.__name__}>", "exec"), namespace)  # noqa: S102 (our own text)
    return namespace["write"]
