"""Sources with auth = "signature", and events that carry no lead, through intake."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from app.adapters import ADAPTERS, FieldSet, FormAdapter, Unwrapped
from app.adapters.signatures import decode_hex, hmac_digest, parse_timestamp, require_fresh, require_match
from app.errors import IgnoredEvent, Unauthorized
from tests.conftest import PB_URL, SUCCESS, base_document, build_app, sent_params

SECRET = "signing-secret-for-tests"
NOW = 1_741_976_400


class SignedTestAdapter(FormAdapter):
    """A form adapter signed like many tools: hex HMAC of "<timestamp>.<body>"."""

    name = "signed_test"
    signed = True

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        if dict(pairs).get("event") == "ping":
            raise IgnoredEvent("a ping event carries no lead")
        fields = FieldSet()
        for key, value in pairs:
            fields.add(key, value)
        return Unwrapped(fields=fields, sender_id=dict(pairs).get("submission"))

    def verify_signature(self, *, body, headers, secrets, tolerance, now):
        timestamp = parse_timestamp(headers.get("X-Test-Timestamp"))
        require_fresh(timestamp, now=now, tolerance=tolerance)
        presented = decode_hex(headers.get("X-Test-Signature", ""))
        message = f"{int(timestamp)}.".encode() + body
        require_match(presented, [hmac_digest(secret, message) for secret in secrets])


def sign(body: bytes, timestamp: int = NOW, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Test-Timestamp": str(timestamp), "X-Test-Signature": digest}


@pytest.fixture
def signed_client(monkeypatch, pb):
    monkeypatch.setitem(ADAPTERS, "signed_test", SignedTestAdapter)
    monkeypatch.setattr("app.intake.auth.time.time", lambda: NOW)
    document = base_document()
    document["sources"]["signed"] = {
        "customer": "acme",
        "adapter": "signed_test",
        "auth": "signature",
        "signing_secret": ["old-secret-being-rotated", SECRET],
        "signature_tolerance": 300,
    }
    return build_app(document).test_client()


BODY = b"email=ann%40example.com&submission=sub-123&note=hi"
FORM = "application/x-www-form-urlencoded"


def test_valid_signature_delivers(signed_client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = signed_client.post("/v1/leads/signed", data=BODY, headers=sign(BODY), content_type=FORM)

    assert response.status_code == 201
    assert ("email", "ann@example.com") in sent_params(pb)


@pytest.mark.parametrize(
    "headers",
    [
        sign(BODY + b"x"),
        sign(BODY, secret="wrong-secret"),
        sign(BODY, timestamp=NOW - 301),
        sign(BODY, timestamp=NOW + 301),
        {},
        {"X-Test-Timestamp": str(NOW), "X-Test-Signature": "not hex"},
        {"X-Test-Timestamp": "yesterday", "X-Test-Signature": "00"},
        {"X-Test-Timestamp": str(NOW), "X-Test-Signature": "ünïcode"},
    ],
    ids=["tampered", "wrong-secret", "stale", "future", "missing", "not-hex", "bad-timestamp", "non-ascii"],
)
def test_bad_signature_answers_401(signed_client, pb, headers):
    response = signed_client.post("/v1/leads/signed", data=BODY, headers=headers, content_type=FORM)

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0


def test_token_does_not_replace_signature(signed_client, pb):
    response = signed_client.post(
        "/v1/leads/signed?token=token-for-tests-aaaaaaaa", data=BODY, content_type=FORM
    )

    assert response.status_code == 401


def test_ignored_event_answers_200(signed_client, pb):
    body = b"event=ping"

    response = signed_client.post("/v1/leads/signed", data=body, headers=sign(body), content_type=FORM)

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert len(pb.calls) == 0


def test_sender_id_logged(signed_client, pb, caplog):
    pb.get(PB_URL, body=SUCCESS)

    signed_client.post("/v1/leads/signed", data=BODY, headers=sign(BODY), content_type=FORM)

    records = [record for record in caplog.records if record.getMessage() == "lead.relayed"]
    assert records[-1].sender_id == "sub-123"


def test_signature_auth_needs_signed_adapter():
    from app.config import ConfigError, parse_settings

    document = base_document()
    document["sources"]["landing"].update(auth="signature", signing_secret="s")

    with pytest.raises(ConfigError) as raised:
        parse_settings(document)
    assert "checks no signature" in str(raised.value)


def test_signature_auth_needs_secret(monkeypatch):
    from app.config import ConfigError, parse_settings

    monkeypatch.setitem(ADAPTERS, "signed_test", SignedTestAdapter)
    document = base_document()
    document["sources"]["landing"].update(adapter="signed_test", auth="signature")

    with pytest.raises(ConfigError) as raised:
        parse_settings(document)
    assert "signing_secret" in str(raised.value)


def test_require_match_rejects_all_wrong():
    with pytest.raises(Unauthorized):
        require_match(b"a" * 32, [b"b" * 32, b"c" * 32])
