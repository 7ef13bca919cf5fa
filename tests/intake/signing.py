"""Senders' side of the signed auth modes: configuration documents and signed headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from tests.conftest import PB_URL, SUCCESS, base_document, build_app

# The relay's clock in these tests, where freeze_relay_clock fixes app.intake.auth.time.time.
NOW = 1_741_976_400

HMAC_SECRET = "hmac-secret-for-tests-new"
HMAC_OLD_SECRET = "hmac-secret-for-tests-old"

WEBHOOK_KEY = base64.b64encode(b"standard-webhooks-key-for-tests-new").decode()
WEBHOOK_OLD_KEY = base64.b64encode(b"standard-webhooks-key-for-tests-old").decode()
WEBHOOK_SECRET = f"whsec_{WEBHOOK_KEY}"
WEBHOOK_OLD_SECRET = f"whsec_{WEBHOOK_OLD_KEY}"

JSON = "application/json"
MAX_BODY_BYTES = 16384
LEAD_BODY = b'{"email": "ann@example.com", "first_name": "Ann", "phone": "(949) 555-0123"}'


def hmac_source(**hmac_table: Any) -> dict[str, Any]:
    """Return an auth = "hmac" source, signed by default as "sha256=<hex>" with a timestamp."""
    table = {"header": "X-Signature", "prefix": "sha256=", "timestamp_header": "X-Timestamp", **hmac_table}
    table = {key: value for key, value in table.items() if value is not None}
    return {
        "customer": "acme",
        "auth": "hmac",
        "hmac": table,
        "signing_secret": [HMAC_OLD_SECRET, HMAC_SECRET],
        "signature_tolerance": 300,
    }


def webhook_source(**keys: Any) -> dict[str, Any]:
    """Return an auth = "standard_webhooks" source with an old and a new secret."""
    return {
        "customer": "acme",
        "auth": "standard_webhooks",
        "signing_secret": [WEBHOOK_OLD_SECRET, WEBHOOK_SECRET],
        "signature_tolerance": 300,
        **keys,
    }


def signed_document(**sources: dict[str, Any]) -> dict[str, Any]:
    """Return the shared test configuration with these sources added."""
    document = base_document()
    document["sources"].update(sources)
    document["limits"] = {"max_body_bytes": MAX_BODY_BYTES}
    return document


def hmac_digest(
    body: bytes, *, secret: str = HMAC_SECRET, timestamp: int | None = NOW, algorithm: str = "sha256"
) -> bytes:
    """Return the raw HMAC a sender computes: over "<timestamp>.<body>", or the body alone without a timestamp."""
    message = body if timestamp is None else f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).digest()


def hmac_headers(body: bytes, *, secret: str = HMAC_SECRET, timestamp: int = NOW) -> dict[str, str]:
    """Return the headers of the default hmac source: "sha256=<hex>" and a Unix timestamp."""
    signature = hmac_digest(body, secret=secret, timestamp=timestamp).hex()
    return {"X-Signature": f"sha256={signature}", "X-Timestamp": str(timestamp)}


def webhook_headers(
    body: bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    message_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    timestamp: int = NOW,
) -> dict[str, str]:
    """Return Standard Webhooks headers, signed by the standardwebhooks package as a sender would."""
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = Webhook(secret).sign(message_id, signed_at, body.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def freeze_relay_clock(monkeypatch) -> None:
    """Make the signature checks read NOW as the time."""
    monkeypatch.setattr("app.intake.auth.time.time", lambda: NOW)


def signed_client(monkeypatch, pb, **sources: dict[str, Any]):
    """Return a test client of an app with these sources, its clock at NOW and PhoneBurner accepting."""
    freeze_relay_clock(monkeypatch)
    pb.get(PB_URL, body=SUCCESS)
    return build_app(signed_document(**sources)).test_client()


def assert_unauthorized(response, pb) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0
