"""The URL policy: which addresses the market may call (public ones, unless private URLs are allowed).

The engine checks URLs when they are stored; ``engine.outbound``'s pinned transport uses
:func:`resolve_public` when it connects.

Two checks use one rule (:func:`is_public_address`):

- :func:`check_url` when a URL is stored: IP literals and ``localhost`` names are refused
  at once. Host names are not looked up then: an answer given now says nothing about
  the answer given at delivery time.
- :func:`resolve_public` when connecting: the name is resolved once, every address is
  checked, and the caller connects to exactly those addresses (no second lookup that a
  rebinding DNS server could answer differently).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from .errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(OSError):
    """A user-given URL resolves to an address the market will not call."""


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable unicast: not private, loopback,
    link-local, shared, reserved, multicast or unspecified (IPv4-mapped IPv6 included)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


def check_url(field: str, url: str | None, *, allow_private: bool) -> None:
    """Refuse a URL whose host is plainly not public (an IP literal or a localhost name).

    Raises:
        ValidationError: naming ``field``.
    """
    if not url or allow_private:
        return
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    address = _literal_address(host)
    if host == "localhost" or host.endswith(".localhost") or (address is not None and not is_public_address(address)):
        raise ValidationError(field, f"{field} must point at a public address, not {host}")


def resolve_public(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` once and return its addresses, each checked.

    Raises:
        AddressRefused: any address is not public (and private URLs are not allowed).
        OSError: the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address.split("%", 1)[0])):
                raise AddressRefused(f"{host} resolves to {address}, which is not a public address")
    return addresses
