"""Which client address the relay believes, with and without trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from app.intake.clients import client_ip

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


def _request(peer: str | None, *forwarded: str) -> Request:
    headers = [("X-Forwarded-For", value) for value in forwarded]
    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    environ["REMOTE_ADDR"] = peer
    return Request(environ)


def test_direct_client_is_its_peer_address() -> None:
    assert client_ip(_request("203.0.113.9"), PROXIES) == ipaddress.ip_address("203.0.113.9")


def test_forwarded_header_from_an_untrusted_peer_is_ignored() -> None:
    request = _request("203.0.113.9", "198.51.100.1")

    assert client_ip(request, PROXIES) == ipaddress.ip_address("203.0.113.9")


def test_trusted_proxy_names_the_client() -> None:
    request = _request("10.0.0.2", "198.51.100.1")

    assert client_ip(request, PROXIES) == ipaddress.ip_address("198.51.100.1")


def test_forged_hop_left_of_proxy_ignored() -> None:
    # The proxy appends the real peer, so whatever the client wrote is further left.
    request = _request("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.7")

    assert client_ip(request, PROXIES) == ipaddress.ip_address("198.51.100.1")


def test_several_forwarded_headers_read_as_one_chain() -> None:
    request = _request("10.0.0.2", "1.2.3.4", "198.51.100.1")

    assert client_ip(request, PROXIES) == ipaddress.ip_address("198.51.100.1")


@pytest.mark.parametrize("garbage", ["not-an-ip", "", "999.1.1.1", "198.51.100.1:443"])
def test_malformed_hop_stops_at_the_last_trusted_address(garbage: str) -> None:
    request = _request("10.0.0.2", f"1.2.3.4, {garbage}")

    assert client_ip(request, PROXIES) == ipaddress.ip_address("10.0.0.2")


def test_ipv4_mapped_peer_compares_as_ipv4() -> None:
    request = _request("::ffff:10.0.0.2", "198.51.100.1")

    assert client_ip(request, PROXIES) == ipaddress.ip_address("198.51.100.1")


def test_ipv6_proxy_chain() -> None:
    request = _request("fd00::1", "2001:db8::5")

    assert client_ip(request, PROXIES) == ipaddress.ip_address("2001:db8::5")


def test_unknown_peer_is_none() -> None:
    assert client_ip(_request(None), PROXIES) is None
