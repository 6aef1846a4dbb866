"""An httpx client that connects only to checked addresses.

The connection pool's network backend resolves each host once, checks every address
(:func:`engine.url_policy.resolve_public`) and opens the socket to one of those very addresses.
TLS still uses the URL's host name for SNI and certificate verification, and the Host
header is untouched, so the check and the connection cannot disagree (no DNS rebinding
between them). Certificates are verified against the system store, or against
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set (httpx honours both). Environment
proxies are not used: a proxy would make its own, unchecked lookup. Redirects are
never followed.

httpx's timeouts bound each read and write, so a peer that sends one byte just
before each timeout could hold a call open for ever. :func:`total_deadline` bounds a
whole call (connect, TLS handshake, request, answer): inside it, every socket
operation of this thread gets at most the time left, and past the deadline it raises
httpx's timeout errors.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpcore
import httpx

from ..url_policy import AddressRefused, resolve_public

USER_AGENT = "AgentMarket/0.1 (+https://agentmarket.space)"
#: What a caller is told when a URL leads to an address the market will not call. The
#: address itself (an internal DNS answer) goes to the server log only.
ADDRESS_NOT_ALLOWED = "the address is not allowed"

log = logging.getLogger("agentmarket.outbound")
_deadline = threading.local()


@contextmanager
def total_deadline(seconds: float) -> Iterator[None]:
    """Bound every network operation of this thread's checked clients to ``seconds`` in all.

    Raises (from the calls inside, once the time is up):
        httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout.
    """
    outer = getattr(_deadline, "at", None)
    at = time.monotonic() + seconds
    _deadline.at = at if outer is None else min(at, outer)
    try:
        yield
    finally:
        _deadline.at = outer


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what the current deadline leaves; raises ``expired`` past it."""
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("the total deadline of the call has passed")
    return left if timeout is None else min(timeout, left)


@contextmanager
def _cut_off_at_deadline(stream: Any, left: float | None) -> Iterator[None]:
    """Shut ``stream``'s socket down when ``left`` seconds pass: a TLS handshake waits per
    read, so a trickling peer could otherwise stretch it past the deadline."""
    sock = stream.get_extra_info("socket")
    if left is None or not isinstance(sock, socket.socket):
        yield
        return
    timer = threading.Timer(left, _shut, (sock,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _DeadlineStream:
    """A network stream whose every operation ends by the thread's :func:`total_deadline`.

    ``core`` is the httpcore module the stream belongs to (httpx's ``httpcore``, or the
    Anthropic SDK's ``httpcore2``): its timeout errors are the ones its client understands.
    """

    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner = inner
        self._core = core

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, self._core.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, self._core.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        left = _time_left(timeout, self._core.ConnectTimeout)
        with _cut_off_at_deadline(self._inner, left):
            return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left), self._core)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """Wraps a network backend so that its connections end by the thread's :func:`total_deadline`."""

    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner = inner
        self._core = core

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> Any:
        left = _time_left(timeout, self._core.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, left, local_address, socket_options), self._core)

    def __getattr__(self, name: str) -> Any:  # connect_unix_socket, sleep: as the inner backend
        return getattr(self._inner, name)


class _CheckedAddressBackend(_DeadlineBackend):
    """Opens TCP connections only to addresses :func:`resolve_public` approved."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__(httpcore.SyncBackend(), httpcore)
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> Any:
        try:
            addresses = resolve_public(host, port, allow_private=self.allow_private)
        except AddressRefused as exc:
            log.warning("refused to connect to %s: %s", host, exc)
            raise httpcore.ConnectError(ADDRESS_NOT_ALLOWED) from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # getaddrinfo never answers with no address
        raise failure


class _CheckedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _CheckedAddressBackend, max_connections: int) -> None:
        # httpx's transport offers no way to choose the network backend, so the pool
        # it builds is replaced by one with ours (same settings, TLS context from httpx).
        super().__init__(http1=True, http2=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True, trust_env=True),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


def checked_client(*, allow_private: bool, timeout: float, max_connections: int = 16) -> httpx.Client:
    """An httpx client for user-given URLs: checked addresses, verified TLS, no redirects.

    Args:
        allow_private: also allow private and loopback addresses (development, tests).
        timeout: seconds for each of connect, write, read and waiting for a connection
            (wrap calls in :func:`total_deadline` to bound them as a whole).
        max_connections: the pool's size; keep it at least the number of threads sharing it.
    """
    return httpx.Client(
        transport=_CheckedTransport(_CheckedAddressBackend(allow_private=allow_private), max_connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )



def bound_by_deadline(client: Any, core: ModuleType) -> Any:
    """``client`` (an httpx-like client of httpcore module ``core``) with its direct
    connections bounded by :func:`total_deadline`. For the Anthropic SDK's own client,
    whose defaults (TLS trust, limits) are kept."""
    pool = client._transport._pool
    pool._network_backend = _DeadlineBackend(pool._network_backend, core)
    return client
