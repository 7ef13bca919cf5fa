"""The client's IP address, read through the proxies the operator trusts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import Request

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Real proxy paths are a few hops long, so hops beyond this many are not read.
MAX_FORWARDED_HOPS = 20


def client_ip(request: Request, trusted_proxies: Iterable[IPNetwork]) -> IPAddress | None:
    """Return the address of the client that sent the request, or None when unknown.

    X-Forwarded-For is honoured only when the connection comes from a trusted
    proxy. The chain is read from the right, skipping trusted proxies, so a
    client cannot forge its address by sending the header itself.
    """
    trusted = tuple(trusted_proxies)
    peer = _parse(request.remote_addr)
    if peer is None or not _is_trusted(peer, trusted):
        return peer

    for hop in reversed(_forwarded_chain(request)):
        address = _parse(hop)
        if address is None:
            # Hops left of a malformed one are unreliable, so the last good address is the client.
            return peer
        if not _is_trusted(address, trusted):
            return address
        peer = address
    return peer


def from_trusted_proxy(request: Request, trusted_proxies: Iterable[IPNetwork]) -> bool:
    """Return whether the request's connection comes from one of the trusted proxies."""
    peer = _parse(request.remote_addr)
    return peer is not None and _is_trusted(peer, tuple(trusted_proxies))


def _forwarded_chain(request: Request) -> list[str]:
    # Several X-Forwarded-For headers count as one list, in order.
    values = request.headers.getlist("X-Forwarded-For")
    hops = [hop.strip() for value in values for hop in value.split(",")]
    return hops[-MAX_FORWARDED_HOPS:]


def _parse(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket compares as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
