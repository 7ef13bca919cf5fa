"""Replays of signed requests get the first answer again and send nothing more to PhoneBurner."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from app.idempotency import SignedRequest, replay_key, request_key
from tests.conftest import load_fixture
from tests.intake.signing import (
    JSON,
    LEAD_BODY,
    NOW,
    hmac_headers,
    hmac_source,
    signed_client,
    webhook_headers,
    webhook_source,
)

TYPEFORM_SECRET = "typeform-secret-for-tests"
OTHER_LEAD = b'{"email": "bo@example.com", "phone": "(949) 555-0199"}'


@pytest.fixture
def client(monkeypatch, pb):
    return signed_client(
        monkeypatch,
        pb,
        signed=hmac_source(),
        hooks=webhook_source(),
        typeform={"customer": "acme", "adapter": "typeform", "auth": "signature", "signing_secret": TYPEFORM_SECRET},
    )


def post(client, source, headers, body=LEAD_BODY):
    return client.post(f"/v1/leads/{source}", data=body, headers=headers, content_type=JSON)


def typeform_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(TYPEFORM_SECRET.encode(), body, hashlib.sha256).digest()
    return {"Typeform-Signature": "sha256=" + base64.b64encode(digest).decode()}


def typeform_body() -> bytes:
    raw, _ = load_fixture("typeform")
    return raw


def assert_replayed(first, repeat, pb) -> None:
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert repeat.headers.get("Idempotent-Replayed") == "true"
    assert repeat.status_code == first.status_code
    assert repeat.get_json() == first.get_json()
    assert len(pb.calls) == 1


SIGNED_REQUESTS = {
    "hmac": ("signed", lambda: LEAD_BODY, hmac_headers),
    "standard_webhooks": ("hooks", lambda: LEAD_BODY, webhook_headers),
    "tool_signature": ("typeform", typeform_body, typeform_headers),
}


@pytest.mark.parametrize("scheme", SIGNED_REQUESTS)
def test_exact_replay_answered_from_first(client, pb, scheme):
    source, make_body, sign = SIGNED_REQUESTS[scheme]
    body = make_body()

    first = post(client, source, sign(body), body)
    repeat = post(client, source, sign(body), body)

    assert_replayed(first, repeat, pb)


@pytest.mark.parametrize("scheme", SIGNED_REQUESTS)
def test_replay_with_new_key_recognized(client, pb, scheme):
    # Idempotency-Key is not signed, so a client that replays a captured request can change it.
    source, make_body, sign = SIGNED_REQUESTS[scheme]
    body = make_body()

    first = post(client, source, {**sign(body), "Idempotency-Key": "first-key"}, body)
    repeat = post(client, source, {**sign(body), "Idempotency-Key": "attacker-key"}, body)

    assert_replayed(first, repeat, pb)


@pytest.mark.parametrize("scheme", SIGNED_REQUESTS)
def test_replay_adding_key_recognized(client, pb, scheme):
    source, make_body, sign = SIGNED_REQUESTS[scheme]
    body = make_body()

    first = post(client, source, sign(body), body)
    repeat = post(client, source, {**sign(body), "Idempotency-Key": "attacker-key"}, body)

    assert_replayed(first, repeat, pb)


def test_hmac_retry_signed_again_recognized(client, pb):
    # A sender's retry carries a new timestamp, so its signature differs, but the fingerprint still matches.
    first = post(client, "signed", hmac_headers(LEAD_BODY, timestamp=NOW - 60))
    retry = post(client, "signed", hmac_headers(LEAD_BODY, timestamp=NOW))

    assert_replayed(first, retry, pb)


def test_standard_webhooks_retry_recognized_by_message_id(client, pb):
    first = post(client, "hooks", webhook_headers(LEAD_BODY, timestamp=NOW - 60))
    retry = post(client, "hooks", webhook_headers(LEAD_BODY, timestamp=NOW))

    assert_replayed(first, retry, pb)


def test_standard_webhooks_new_message_id_is_new_lead(client, pb):
    first = post(client, "hooks", webhook_headers(LEAD_BODY, message_id="msg_one"))
    second = post(client, "hooks", webhook_headers(OTHER_LEAD, message_id="msg_two"), OTHER_LEAD)

    assert first.status_code == 201
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert len(pb.calls) == 2


def test_hmac_different_lead_is_new_lead(client, pb):
    post(client, "signed", hmac_headers(LEAD_BODY))
    second = post(client, "signed", hmac_headers(OTHER_LEAD), OTHER_LEAD)

    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert len(pb.calls) == 2


def test_reused_key_other_body_answers_422(client, pb):
    post(client, "signed", {**hmac_headers(LEAD_BODY), "Idempotency-Key": "one-key"})
    reused = post(client, "signed", {**hmac_headers(OTHER_LEAD), "Idempotency-Key": "one-key"}, OTHER_LEAD)

    assert reused.status_code == 422
    assert len(pb.calls) == 1


def test_replay_of_rejected_request_sends_nothing(client, pb):
    body = json.dumps({"first_name": "No contact"}).encode()

    first = post(client, "signed", hmac_headers(body), body)
    repeat = post(client, "signed", {**hmac_headers(body), "Idempotency-Key": "attacker-key"}, body)

    assert first.status_code == 422
    assert repeat.headers.get("Idempotent-Replayed") == "true"
    assert len(pb.calls) == 0


class TestKeyOrder:
    SIGNED = SignedRequest(signature=b"\x01" * 32)
    MESSAGE = SignedRequest(message_id="msg_1")

    def key(self, **evidence):
        evidence = {"header": None, "sender_id": None, "lead": None, **evidence}
        return request_key(source="s", **evidence)

    def test_header_comes_first(self):
        assert self.key(header="k", message_id="msg_1", sender_id="sub").startswith("key:")

    def test_message_id_before_sender_id(self):
        assert self.key(message_id="msg_1", sender_id="sub").startswith("message:")

    def test_signature_never_the_request_key(self):
        assert self.key(sender_id="sub").startswith("sender:")

    def test_message_replay_key_equals_request_key(self):
        assert replay_key(source="s", signed=self.MESSAGE) == self.key(message_id="msg_1")

    def test_replay_key_from_signature(self):
        assert replay_key(source="s", signed=self.SIGNED).startswith("signature:s:")

    def test_unsigned_request_has_no_replay_key(self):
        assert replay_key(source="s", signed=None) is None
        assert replay_key(source="s", signed=SignedRequest()) is None

    def test_keys_fit_key_column(self):
        source = "s" * 64

        assert len(replay_key(source=source, signed=self.SIGNED)) <= 128
        assert len(replay_key(source=source, signed=self.MESSAGE)) <= 128
