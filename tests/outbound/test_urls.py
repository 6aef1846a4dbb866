"""Which URLs the market may call, checked when stored and again, pinned, when connecting."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from engine import Market
from engine.errors import ValidationError
from engine.outbound.transport import checked_client
from engine.url_policy import AddressRefused, check_url, is_public_address, resolve_public

from .servers import LoopbackServer


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
    ],
)
def test_public_addresses(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/hook", "https://10.0.0.8:8443/x", "https://[::1]/x", "https://localhost/x",
     "https://api.localhost/x", "https://169.254.169.254/latest", "https://LOCALHOST./x"],
)
def test_urls_plainly_pointing_inside_are_refused_when_stored(url):
    with pytest.raises(ValidationError) as refused:
        check_url("webhook_url", url, allow_private=False)
    assert refused.value.field == "webhook_url"
    check_url("webhook_url", url, allow_private=True)


def test_host_names_are_left_to_the_connection_time_check():
    check_url("endpoint_url", "https://agents.example.com/run", allow_private=False)


def test_the_market_checks_every_place_a_url_is_stored(market: Market):
    with pytest.raises(ValidationError, match="https://"):
        market.register_agent(name="A", capabilities=["x"], owner_email="a@example.com",
                              webhook_url="http://example.com/hook")
    with pytest.raises(ValidationError) as refused:
        market.register_agent(name="A", capabilities=["x"], owner_email="a@example.com",
                              endpoint_url="http://127.0.0.1:9000/run")
    assert refused.value.field == "endpoint_url"
    agent = market.register_agent(name="A", capabilities=["x"], owner_email="a@example.com").agent
    with pytest.raises(ValidationError):
        market.set_webhook(agent.id, "https://192.168.0.10/hook")
    with pytest.raises(ValidationError):
        market.update_agent(agent.id, endpoint_url="https://[fe80::1]/run")
    market.allow_private_urls = True
    assert market.set_webhook(agent.id, "https://192.168.0.10/hook").secret.startswith("whsec_")


def test_resolution_refuses_a_name_with_any_private_address():
    with pytest.raises(AddressRefused, match="not a public address"):
        resolve_public("localhost", 443, allow_private=False)
    assert "127.0.0.1" in resolve_public("localhost", 443, allow_private=True)


def test_the_client_connects_to_the_address_it_checked_without_a_second_lookup(server_tls, monkeypatch):
    """A name that resolves to loopback once and elsewhere afterwards (DNS rebinding):
    the connection goes to the first answer, and TLS still verifies the name."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host == "pinned.test":
            lookups.append(host)
            answer = "127.0.0.1" if len(lookups) == 1 else "192.0.2.1"  # TEST-NET: unroutable
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    with LoopbackServer(tls=server_tls, host_name="pinned.test") as server:
        with checked_client(allow_private=True, timeout=2.0) as client:
            response = client.post(server.url + "/hook", content=b"{}")

    assert response.status_code == 200
    assert lookups == ["pinned.test"]
    assert server.received()[0].headers["host"] == server.url.removeprefix("https://")


def test_the_client_never_uses_environment_proxies(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://192.0.2.1:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://192.0.2.1:3128")
    with LoopbackServer() as server, checked_client(allow_private=True, timeout=2.0) as client:
        assert client.post(server.url + "/x", content=b"{}").status_code == 200
