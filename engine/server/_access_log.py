"""One access-log line per request: client, method, path, status, milliseconds.

Never the query string (it may carry secrets) and never a header, so never an API key.
Lines go to the ``agentmarket.access`` logger; ``agentmarket serve`` sends it to stderr.

Request threads only append to a buffer; one writer thread hands the lines to the logger
every :data:`FLUSH_SECONDS` (and :func:`flush` at a clean stop), as ONE record of many
lines, each line starting with its request's time (``agentmarket serve`` prints the
record's message as it is). Logging a record from every request thread serialized them
all on the handler's lock and cost half the server's time under load (issue 14's
profile). A line may reach the log up to a flush late; a killed process loses at most
that last moment's lines.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

log = logging.getLogger("agentmarket.access")
MAX_PATH_SHOWN = 200
#: Seconds between the writer thread's rounds.
FLUSH_SECONDS = 0.2
#: Lines kept waiting at most; beyond it the oldest are dropped (and counted in a line).
MAX_PENDING = 100_000

_Entry = tuple[float, str, str, str, int, float]
_pending: deque[_Entry] = deque()
_writer_lock = threading.Lock()  # one flush at a time, so lines keep their order
_writer: threading.Thread | None = None
_dropped = 0


def record(client: str, method: str, target: str, status: int, milliseconds: float) -> None:
    """Log one answered request (soon, from the writer thread)."""
    global _dropped
    if not log.isEnabledFor(logging.INFO):
        return
    if len(_pending) >= MAX_PENDING:
        _dropped += 1
        return
    _pending.append((time.time(), client, method, target, status, milliseconds))
    if _writer is None:
        _start_writer()


def flush() -> None:
    """Write every buffered line now (a server's clean stop calls it)."""
    global _dropped
    with _writer_lock:
        lines = []
        while _pending:
            at, client, method, target, status, milliseconds = _pending.popleft()
            path = target.partition("?")[0][:MAX_PATH_SHOWN]
            lines.append(f'{_timestamp(at)} {client} "{_printable(method)} {_printable(path)}" '
                         f'{status} {milliseconds:.1f}ms')
        if lines:
            log.info("%s", "\n".join(lines))
        if _dropped:
            dropped, _dropped = _dropped, 0
            logging.getLogger("agentmarket.server").warning("%d access-log lines dropped: the log could not keep up", dropped)


_stamp_cache: tuple[int, str] = (-1, "")


def _timestamp(at: float) -> str:
    """``at`` as logging's default ``asctime`` shows it: ``2026-01-01 12:00:00,123`` (local time)."""
    global _stamp_cache
    second = int(at)
    if _stamp_cache[0] != second:
        _stamp_cache = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return f"{_stamp_cache[1]},{int((at - second) * 1000):03d}"


def _start_writer() -> None:
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = threading.Thread(target=_write_forever, name="access-log", daemon=True)
            _writer.start()


def _write_forever() -> None:
    stop = threading.Event()  # never set: the thread lives as long as the process
    while not stop.wait(FLUSH_SECONDS):
        try:
            flush()
        except Exception:  # a broken log stream must not end the logging of later lines
            logging.getLogger("agentmarket.server").debug("access log flush failed", exc_info=True)


def _forget_writer() -> None:
    global _writer
    _writer = None  # a forked child has no copy of the parent's thread: it starts its own


os.register_at_fork(after_in_child=_forget_writer)


def _printable(text: str) -> str:
    # A request line may hold odd bytes; a log line must stay one line of plain text.
    return text if text.isprintable() and text.isascii() else text.encode("unicode_escape").decode()[:MAX_PATH_SHOWN]
