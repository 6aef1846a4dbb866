"""One access-log line per request: client, method, path, status, milliseconds.

Never the query string (it may carry secrets) and never a header, so never an API key.
Lines go to the ``agentmarket.access`` logger; ``agentmarket serve`` sends it to stderr.
"""

from __future__ import annotations

import logging

log = logging.getLogger("agentmarket.access")
MAX_PATH_SHOWN = 200


def record(client: str, method: str, target: str, status: int, milliseconds: float) -> None:
    """Log one answered request."""
    if not log.isEnabledFor(logging.INFO):
        return
    path = target.partition("?")[0][:MAX_PATH_SHOWN]
    log.info('%s "%s %s" %d %.1fms', client, _printable(method), _printable(path), status, milliseconds)


def _printable(text: str) -> str:
    # A request line may hold odd bytes; a log line must stay one line of plain text.
    return text if text.isprintable() and text.isascii() else text.encode("unicode_escape").decode()[:MAX_PATH_SHOWN]
