"""Standard Webhooks signatures, verified with the standardwebhooks package.

A sender signs "<webhook-id>.<webhook-timestamp>.<body>" with HMAC-SHA256 and
sends "v1,<base64 signature>" entries, separated by spaces, in
webhook-signature. The package raises more than its own error on malformed
input (ValueError on an entry without a comma, UnicodeDecodeError on a body
that is not UTF-8), so the headers and body are checked here first, and any
failure becomes Unauthorized.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from app.adapters.signatures import parse_timestamp, require_fresh, required_header
from app.errors import Unauthorized

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

# Senders use short ASCII ids such as "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W". The limit bounds what a sender controls.
MAX_ID_CHARS = 256
_MESSAGE_ID = re.compile(r"[\x21-\x7e]+")

_V1_SIGNATURE = re.compile(r"v1,([A-Za-z0-9+/]+={0,2})")


class _ConfiguredWindowWebhook(Webhook):
    """The package's verifier without its own timestamp window.

    standardwebhooks 1.1.0 rejects timestamps more than a fixed five minutes
    from datetime.now() in its private Webhook.__verify_timestamp. Overriding
    that method leaves the source's signature_tolerance, checked before
    verify() runs, as the only window.
    """

    # The name Python gives the package's private method; a test pins that it is still the one called.
    def _Webhook__verify_timestamp(self, timestamp_header: str) -> datetime:
        return datetime.fromtimestamp(int(timestamp_header), tz=UTC)


def verify_standard_webhook(
    *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
) -> str:
    """Return the verified webhook-id, or raise Unauthorized.

    Any one of `secrets` ("whsec_..." each) may match, for rotation. The
    timestamp must be within `tolerance` seconds of `now`.
    """
    message_id = required_header(headers, ID_HEADER)
    if len(message_id) > MAX_ID_CHARS or not _MESSAGE_ID.fullmatch(message_id):
        raise Unauthorized(f"malformed {ID_HEADER} header: expected printable ASCII, at most {MAX_ID_CHARS} characters")

    timestamp_text = required_header(headers, TIMESTAMP_HEADER)
    require_fresh(parse_timestamp(timestamp_text), now=now, tolerance=tolerance)

    signatures = _v1_signatures(required_header(headers, SIGNATURE_HEADER))
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unauthorized("the body is not UTF-8, so its Standard Webhooks signature cannot match") from None

    checked = {ID_HEADER: message_id, TIMESTAMP_HEADER: timestamp_text, SIGNATURE_HEADER: " ".join(signatures)}
    matched = False
    for secret in secrets:
        # Every secret is tried, not only until one matches, as require_match does for the other schemes.
        matched |= _verifies(secret, payload, checked)
    if not matched:
        raise Unauthorized("invalid signature: check the signing secret configured for this source")
    return message_id


def _verifies(secret: str, payload: str, headers: dict[str, str]) -> bool:
    try:
        _ConfiguredWindowWebhook(secret).verify(payload, headers, json_parse=False)
    except (WebhookVerificationError, EmptyWebhookSecretError, ValueError):
        # ValueError includes binascii.Error from a secret that is not base64, which the configuration check rejects.
        return False
    return True


def _v1_signatures(header: str) -> list[str]:
    """Return the well-formed v1 entries; others, such as a later version's, are skipped as the package skips them."""
    entries = [entry for entry in header.split() if _V1_SIGNATURE.fullmatch(entry) and _is_base64(entry[3:])]
    if not entries:
        raise Unauthorized(f"malformed {SIGNATURE_HEADER} header: expected v1,<base64 signature>")
    return entries


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return False
    return True
