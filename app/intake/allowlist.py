"""Per-source IP allowlists, checked before the body is read."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Request

from app.config.model import IPNetwork, Source
from app.errors import Forbidden
from app.intake.clients import client_ip


def require_allowed_client(
    source: Source, request: Request, trusted_proxies: Iterable[IPNetwork], *, action: str = "post to this source"
) -> None:
    """Raise Forbidden unless the client's address is in the source's allowed_ips. An empty list allows anyone.

    The message names `action`, what the client tried: posting, or reading the source's leads.
    """
    if not source.allowed_ips:
        return

    address = client_ip(request, trusted_proxies)
    if address is None:
        raise Forbidden("the client's address is unknown, and this source accepts only the addresses in allowed_ips")

    if not any(address.version == network.version and address in network for network in source.allowed_ips):
        raise Forbidden(
            f"the address {address} is not allowed to {action}; "
            "the relay's operator lists the sender's addresses in allowed_ips"
        )
