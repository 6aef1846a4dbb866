"""Cursors of keyset pages (SPEC §12): opaque, and bound to the list that issued them.

A cursor carries the sort key of the last row of a page. It is signed with the market's
own secret (HMAC-SHA256) over that key and the query it belongs to (every filter and the
order, with paging left out), so a cursor that was garbled, forged, or issued for another
list, filter, order or agent is refused with ``invalid_cursor`` instead of paging anything.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from .errors import InvalidCursor

_MAC_BYTES = 16
_MAX_CURSOR = 512
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps with options makes one a call


def _scope(query: Any) -> bytes:
    """What a cursor is bound to: the query's type and every field but the paging ones."""
    names = _scoped_fields(type(query))
    return _scope_text(type(query), names, tuple([getattr(query, name) for name in names]))


@lru_cache(maxsize=64)
def _scoped_fields(query_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(query_type) if f.name not in ("limit", "offset", "cursor"))


@lru_cache(maxsize=1024)
def _scope_text(query_type: type, names: tuple[str, ...], values: tuple[Any, ...]) -> bytes:
    # Every page of a list asks again (a list of one agent's tasks per agent): encoded once.
    return json.dumps([query_type.__name__, dict(zip(names, values))], sort_keys=True, default=str).encode()


def _mac(secret: bytes, query: Any, payload: bytes) -> bytes:
    return hmac.new(secret, _scope(query) + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode(secret: bytes, query: Any, key: tuple[Any, ...]) -> str:
    """The cursor of the page after the row whose sort key is ``key``, for ``query``'s list."""
    payload = _COMPACT.encode(list(key)).encode()
    return base64.urlsafe_b64encode(payload + _mac(secret, query, payload)).rstrip(b"=").decode()


def decode(secret: bytes, query: Any) -> tuple[Any, ...] | None:
    """The sort key ``query.cursor`` carries, or None when it has no cursor.

    Raises:
        InvalidCursor: the cursor is garbled, or was not issued by this market for this query.
    """
    cursor = query.cursor
    if cursor is None:
        return None
    try:
        if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, _mac(secret, query, payload)):
            raise ValueError
        key = json.loads(payload)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None
    if not isinstance(key, list) or not all(isinstance(k, (int, float, str)) for k in key):
        raise InvalidCursor()
    return tuple(key)
