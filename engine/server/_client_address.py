"""Who the client is: the peer address, or what trusted proxies say in ``X-Forwarded-For``.

Each proxy appends the address it received the request from, so the list is only as
trustworthy as its right end. Walking it from the right, every address that is itself a
trusted proxy is skipped; the first one that is not is the client (anything left of it
was written by the client and may be forged). Without trusted proxies the header is
ignored. IPv6 clients are grouped by their /64 network, which one host usually owns whole,
so a per-address limit cannot be dodged by walking through one's own prefix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from engine.errors import ValidationError

HEADER = "X-Forwarded-For"
IPV6_PREFIX = 64
#: Longest X-Forwarded-For entry kept as a client name when it is not an address.
MAX_NAME_LENGTH = 100

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The trusted proxies' networks.

    Raises:
        ValidationError: naming ``trusted_proxies`` for a CIDR that does not parse.
    """
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValidationError("trusted_proxies", f"{cidr[:60]!r} is not an address or CIDR network") from None
    return tuple(networks)


class ClientAddress:
    """Names a request's client.

    Args:
        trusted: networks of the proxies whose ``X-Forwarded-For`` is believed.
    """

    def __init__(self, trusted: Iterable[Network] = ()) -> None:
        self.trusted = tuple(trusted)

    def of(self, peer: str, headers: Mapping[str, str]) -> str:
        """The client of a request that came from ``peer`` with ``headers``."""
        if not self.trusted or not self._is_trusted(peer):
            return _group(peer)
        hops = [hop.strip() for value in _all(headers, HEADER) for hop in value.split(",") if hop.strip()]
        client = peer
        for hop in reversed(hops):
            client = hop
            if not self._is_trusted(hop):
                break
        return _group(client)

    def _is_trusted(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.trusted)


def _all(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of a header, in order (several X-Forwarded-For lines form one list)."""
    get_all = getattr(headers, "get_all", None)
    if get_all is not None:
        return list(get_all(name) or ())
    value = headers.get(name)
    return [] if value is None else [value]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _group(address: str) -> str:
    """The address as the limit counts it: IPv4 whole, IPv6 by its /64."""
    ip = _ip(address)
    if ip is None:
        return address[:MAX_NAME_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)
