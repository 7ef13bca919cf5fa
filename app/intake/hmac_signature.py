"""A generic HMAC signature over the raw body, as a source's [sources.NAME.hmac] table describes it.

Accepted forms: hex digits in either case, or base64 in the standard or the
URL-safe alphabet with or without padding. The configured prefix comes first
and is compared ignoring case. The decoded value must be exactly one digest long.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from app.adapters.signatures import (
    ALGORITHMS,
    hmac_digest,
    parse_timestamp,
    require_fresh,
    require_match,
    required_header,
)
from app.config.model import HmacSettings
from app.errors import Unauthorized

_HEX = re.compile(r"[0-9A-Fa-f]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def verify_hmac(
    config: HmacSettings,
    *,
    body: bytes,
    headers: Mapping[str, str],
    secrets: tuple[str, ...],
    tolerance: float,
    now: float,
) -> bytes:
    """Return the verified signature's bytes, or raise Unauthorized.

    With a timestamp header, the signed message is "<timestamp>.<raw body>" and
    a timestamp more than `tolerance` seconds from `now` is rejected.
    """
    presented = _presented_signature(config, headers)

    message = body
    if config.timestamp_header:
        timestamp_text = required_header(headers, config.timestamp_header)
        require_fresh(parse_timestamp(timestamp_text), now=now, tolerance=tolerance)
        message = timestamp_text.encode("ascii") + b"." + body

    # require_match compares one value with a list: the digest under each secret, so any of them may match.
    return require_match(presented, [hmac_digest(secret, message, config.algorithm) for secret in secrets])


def _presented_signature(config: HmacSettings, headers: Mapping[str, str]) -> bytes:
    text = required_header(headers, config.header)
    expected_form = f"{config.prefix}<{config.encoding} {config.algorithm} digest>"
    if text[: len(config.prefix)].lower() != config.prefix.lower():
        raise Unauthorized(f"malformed {config.header} header: expected {expected_form}")

    encoded = text[len(config.prefix) :]
    decoded = _decode_hex(encoded) if config.encoding == "hex" else _decode_base64(encoded)
    if decoded is None or len(decoded) != ALGORITHMS[config.algorithm]().digest_size:
        raise Unauthorized(f"malformed {config.header} header: expected {expected_form}")
    return decoded


def _decode_hex(text: str) -> bytes | None:
    # bytes.fromhex alone would also take spaces between the digits.
    return bytes.fromhex(text) if _HEX.fullmatch(text) and len(text) % 2 == 0 else None


def _decode_base64(text: str) -> bytes | None:
    if not _BASE64.fullmatch(text):
        return None
    standard = text.rstrip("=").translate(_URL_SAFE_TO_STANDARD)
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        return None
