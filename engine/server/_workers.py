"""``agentmarket serve --workers N``: N server processes on one port, over one market file.

The parent reserves the port (a bound, never-listening ``SO_REUSEPORT`` socket, so port 0
picks one port for all), makes the rate limits' shared table, then forks N workers. Each
worker opens the market itself (SQLite connections never cross a fork) and serves with its
own ``SO_REUSEPORT`` listening socket: the kernel spreads new connections over them. What
must hold across processes lives in the market file (idempotency keys, the per-address
registration count, the webhook delivery lease: one worker delivers and sweeps) or in the
shared table (per-key rate limits).

A worker that dies (kill -9, a crash) is replaced while the others go on serving; its
unanswered requests' clients see their connections close, and whatever it had not committed
never happened. If it held the delivery lease, the lease runs out and another worker takes
deliveries and sweeps over. A worker that dies within :data:`QUICK_DEATH_SECONDS` of its
start is replaced only after a growing pause, and after :data:`MAX_QUICK_DEATHS` such deaths
in a row the parent stops the rest and exits 1 with a one-line error.

SIGTERM or SIGINT to the parent is passed to every worker, each drains as a single server
does, and the parent exits once all have. A worker whose parent dies is sent SIGTERM.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable

from . import _ratelimit

log = logging.getLogger("agentmarket.server")

#: A worker ending sooner than this after its start died "at once" (e.g. cannot open the market).
QUICK_DEATH_SECONDS = 10.0
#: Deaths at once in a row after which the parent gives up.
MAX_QUICK_DEATHS = 5
#: Pause before replacing a worker that died at once: doubled for each such death in a row.
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 8.0
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1


def serve_workers(serve_one: Callable[[int], None], host: str, port: int, workers: int) -> int:
    """Run ``workers`` forked processes, each calling ``serve_one(port)`` (which serves with
    ``reuse_port=True`` until SIGTERM), replacing any that dies, until a signal stops them.

    Args:
        serve_one: serves the market in the calling (forked) process on ``port``.
        host, port: where every worker listens; port 0 picks one free port for all.
        workers: how many processes.

    Returns:
        0 when every worker stopped cleanly after a signal, else 1 (a worker that failed to
        stop cleanly, or workers that kept dying at start-up).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind((host, port))
        port = reserved.getsockname()[1]
        _ratelimit.share_across_forks()
        return _Supervisor(serve_one, port, workers, inherited=[reserved.fileno()]).run()
    finally:
        reserved.close()


def describe_status(status: int) -> str:
    """A wait status in words: ``exit code 1``, ``killed by SIGKILL``."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _Supervisor:
    """Keeps ``workers`` worker processes running until stopped (see the module's docstring)."""

    def __init__(self, serve_one: Callable[[int], None], port: int, workers: int, *, inherited: list[int]) -> None:
        self._serve_one = serve_one
        self._port = port
        self._workers = workers
        self._parent = os.getpid()
        self._started: dict[int, float] = {}  # worker pid -> when it started (monotonic)
        self._pidfds: dict[int, int] = {}  # pidfd -> worker pid
        self._due: list[float] = []  # when each missing worker is to be started
        self._quick_deaths = 0
        self._stopping = False
        self._failed = False
        self._poller = select.poll()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._poller.register(self._wake_read, select.POLLIN)
        self._parent_only = [*inherited, self._wake_read, self._wake_write]

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._stop) for signum in _STOP_SIGNALS}
        try:
            for _ in range(self._workers):
                self._start()
            while self._started or (self._due and not self._stopping):
                self._wait()
                self._start_due()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for pidfd in self._pidfds:
                os.close(pidfd)
            os.close(self._wake_read)
            os.close(self._wake_write)
        return 1 if self._failed else 0

    # -- signals --------------------------------------------------------------------------
    def _stop(self, *_: object) -> None:
        self._stopping = True
        self._due.clear()
        for pid in self._started:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            os.write(self._wake_write, b"x")  # end a pause between restarts at once
        except BlockingIOError:
            pass

    # -- waiting and reaping ----------------------------------------------------------------
    def _wait(self) -> None:
        timeout = None
        if self._due and not self._stopping:
            timeout = max(0, round((min(self._due) - time.monotonic()) * 1000))
        for fd, _ in self._poller.poll(timeout):
            if fd == self._wake_read:
                os.read(self._wake_read, 64)
            else:
                self._reap(fd)

    def _reap(self, pidfd: int) -> None:
        pid = self._pidfds.pop(pidfd)
        self._poller.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        lived = time.monotonic() - self._started.pop(pid)
        if self._stopping:
            if os.waitstatus_to_exitcode(status) != 0:
                self._failed = True
            return
        self._quick_deaths = self._quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
        if self._quick_deaths >= MAX_QUICK_DEATHS:
            print(f"agentmarket serve: server workers keep dying at start-up ({self._quick_deaths} in a row, "
                  f"the last with {describe_status(status)}); stopping", file=sys.stderr, flush=True)
            self._failed = True
            self._stop()
            return
        pause = 0.0 if not self._quick_deaths else min(MAX_PAUSE_SECONDS,
                                                        FIRST_PAUSE_SECONDS * 2 ** (self._quick_deaths - 1))
        log.error("server worker %d ended (%s) after %.1f s; starting another in %g s", pid,
                  describe_status(status), lived, pause)
        self._due.append(time.monotonic() + pause)

    # -- starting ---------------------------------------------------------------------------
    def _start_due(self) -> None:
        now = time.monotonic()
        ready = [d for d in self._due if d <= now]
        self._due = [d for d in self._due if d > now]  # a stop signal meanwhile clears whichever list it finds
        for _ in ready:
            if self._stopping:
                return
            self._start()

    def _start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        # Blocked until the worker is on the books: a stop signal must neither run the parent's
        # handler in the child nor miss the new worker.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._become_worker(blocked)  # never returns
            pidfd = os.pidfd_open(pid)
            self._pidfds[pidfd] = pid
            self._started[pid] = time.monotonic()
            self._poller.register(pidfd, select.POLLIN)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _become_worker(self, mask: set[signal.Signals]) -> None:
        code = 1
        try:
            for fd in [*self._parent_only, *self._pidfds]:
                os.close(fd)
            for signum in _STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            _term_when_parent_dies(self._parent)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            self._serve_one(self._port)
            code = 0
        except BaseException:
            log.exception("server worker %d failed", os.getpid())
        finally:
            sys.stderr.flush()
            os._exit(code)


def _term_when_parent_dies(parent: int) -> None:
    """Have the kernel send this process SIGTERM when ``parent`` dies (Linux), so no worker
    outlives a parent killed with kill -9."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
