"""``agentmarket serve --workers N``: N server processes on one port, over one market file.

The parent reserves the port (a bound, never-listening ``SO_REUSEPORT`` socket, so port 0
picks one port for all), makes the rate limits' shared table, then forks N workers. Each
worker opens the market itself (SQLite connections never cross a fork) and serves with its
own ``SO_REUSEPORT`` listening socket: the kernel spreads new connections over them. What
must hold across processes lives in the market file (idempotency keys, the per-address
registration count, the webhook delivery lease: one worker delivers and sweeps) or in the
shared table (per-key rate limits). SIGTERM or SIGINT to the parent is passed to every
worker, each drains as a single server does, and the parent exits once all have.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

from . import _ratelimit

log = logging.getLogger("agentmarket.server")


def serve_workers(serve_one: Callable[[int], None], host: str, port: int, workers: int) -> int:
    """Run ``workers`` forked processes, each calling ``serve_one(port)`` (which serves with
    ``reuse_port=True`` until SIGTERM), until a signal stops them.

    Args:
        serve_one: serves the market in the calling (forked) process on ``port``.
        host, port: where every worker listens; port 0 picks one free port for all.
        workers: how many processes.

    Returns:
        0 when every worker stopped cleanly, else 1 (a worker that fails stops the rest).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    reserved.bind((host, port))
    port = reserved.getsockname()[1]
    _ratelimit.share_across_forks()
    sys.stdout.flush()
    sys.stderr.flush()
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker
            reserved.close()
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                serve_one(port)
                code = 0
            except BaseException:
                log.exception("server worker %d failed", os.getpid())
            finally:
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    remaining = set(children)
    while remaining:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        remaining.discard(pid)
        if os.waitstatus_to_exitcode(status) != 0 or not stopping:
            failed = failed or not stopping or os.waitstatus_to_exitcode(status) != 0
            if not stopping:
                log.error("server worker %d ended (status %d); stopping the others", pid,
                          os.waitstatus_to_exitcode(status))
                stop()
    reserved.close()
    return 1 if failed else 0
