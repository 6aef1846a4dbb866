"""An httpx client that connects only to checked addresses.

The connection pool's network backend resolves each host once, checks every address
(:func:`engine.url_policy.resolve_public`) and opens the socket to one of those very addresses.
TLS still uses the URL's host name for SNI and certificate verification, and the Host
header is untouched, so the check and the connection cannot disagree (no DNS rebinding
between them). Certificates are verified against the system store, or against
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set (httpx honours both). Environment
proxies are not used: a proxy would make its own, unchecked lookup. Redirects are
never followed.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpcore
import httpx

from ..url_policy import AddressRefused, resolve_public

USER_AGENT = "AgentMarket/0.1 (+https://agentmarket.space)"


class _CheckedAddressBackend(httpcore.SyncBackend):
    """Opens TCP connections only to addresses :func:`resolve_public` approved."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve_public(host, port, allow_private=self.allow_private)
        except AddressRefused as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from exc
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
    def __init__(self, *, allow_private: bool, max_connections: int) -> None:
        # httpx's transport offers no way to choose the network backend, so the pool
        # it builds is replaced by one with ours (same settings, TLS context from httpx).
        super().__init__(http1=True, http2=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True, trust_env=True),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=_CheckedAddressBackend(allow_private=allow_private),
        )


def checked_client(*, allow_private: bool, timeout: float, max_connections: int = 16) -> httpx.Client:
    """An httpx client for user-given URLs: checked addresses, verified TLS, no redirects.

    Args:
        allow_private: also allow private and loopback addresses (development, tests).
        timeout: seconds for each of connect, write, read and waiting for a connection.
        max_connections: the pool's size; keep it at least the number of threads sharing it.
    """
    return httpx.Client(
        transport=_CheckedTransport(allow_private=allow_private, max_connections=max_connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )
