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
from typing import Any

from .errors import InvalidCursor

_MAC_BYTES = 16
_MAX_CURSOR = 512


def _scope(query: Any) -> bytes:
    """What a cursor is bound to: the query's type and every field but the paging ones."""
    fields = {f.name: getattr(query, f.name) for f in dataclasses.fields(query)
              if f.name not in ("limit", "offset", "cursor")}
    return json.dumps([type(query).__name__, fields], sort_keys=True, default=str).encode()


def _mac(secret: bytes, query: Any, payload: bytes) -> bytes:
    return hmac.new(secret, _scope(query) + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode(secret: bytes, query: Any, key: tuple[Any, ...]) -> str:
    """The cursor of the page after the row whose sort key is ``key``, for ``query``'s list."""
    payload = json.dumps(list(key), separators=(",", ":")).encode()
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
