"""Building blocks for checking a tool's webhook signature over the raw body."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from app.errors import Unauthorized

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def hmac_digest(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    """Return the raw HMAC of `message` keyed with the UTF-8 bytes of `secret`."""
    return hmac.new(secret.encode("utf-8"), message, ALGORITHMS[algorithm]).digest()


def decode_hex(text: str) -> bytes:
    """Decode a hex signature, raising Unauthorized when it is malformed."""
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        raise Unauthorized("malformed signature: expected hex digits") from None


def decode_base64(text: str) -> bytes:
    """Decode a base64 signature, raising Unauthorized when it is malformed."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Unauthorized("malformed signature: expected base64") from None


def require_match(expected: bytes, presented: list[bytes]) -> bytes:
    """Return `expected` if it equals one of `presented`, else raise Unauthorized.

    The comparison is symmetric, so a single presented signature can also be
    checked against one expected digest per signing secret; it is then the
    verified signature that comes back.
    """
    matched = False
    for candidate in presented:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise Unauthorized("invalid signature: check the signing secret configured for this source")
    return expected


def require_fresh(timestamp: float, *, now: float, tolerance: float) -> None:
    """Raise Unauthorized when a signed timestamp is outside the clock-skew window."""
    if abs(now - timestamp) > tolerance:
        raise Unauthorized(
            f"stale or future signature timestamp: more than {tolerance:g} s from the relay's clock"
        )


def parse_timestamp(text: str | None, *, milliseconds: bool = False) -> float:
    """Parse a Unix timestamp header, raising Unauthorized when missing or malformed."""
    if not text or not text.strip().isascii() or not text.strip().isdigit():
        raise Unauthorized("missing or malformed signature timestamp")
    value = float(text.strip())
    return value / 1000 if milliseconds else value


def required_header(headers: Mapping[str, str], name: str) -> str:
    """Return a signature header's value without surrounding spaces, raising Unauthorized when missing or empty."""
    value = (headers.get(name) or "").strip()
    if not value:
        raise Unauthorized(f"missing {name} header: this source accepts only signed requests")
    return value
