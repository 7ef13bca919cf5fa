"""auth = "standard_webhooks": webhook-id, webhook-timestamp and webhook-signature, attacked one by one."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from tests.intake.signing import (
    JSON,
    LEAD_BODY,
    MAX_BODY_BYTES,
    NOW,
    WEBHOOK_KEY,
    WEBHOOK_OLD_SECRET,
    WEBHOOK_SECRET,
    assert_unauthorized,
    signed_client,
    webhook_headers,
    webhook_source,
)


@pytest.fixture
def client(monkeypatch, pb):
    return signed_client(monkeypatch, pb, hooks=webhook_source(), patient=webhook_source(signature_tolerance=600))


def post(client, headers, body=LEAD_BODY, source="hooks"):
    return client.post(f"/v1/leads/{source}", data=body, headers=headers, content_type=JSON)


def spec_signature(message_id: str, timestamp: int, body: bytes, key: str = WEBHOOK_KEY) -> str:
    """Sign as the Standard Webhooks specification describes, without the package."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(base64.b64decode(key), signed, hashlib.sha256).digest()).decode()


def test_valid_signature_delivers(client, pb):
    response = post(client, webhook_headers(LEAD_BODY))

    assert response.status_code == 201
    assert len(pb.calls) == 1


def test_signature_made_by_the_specification_accepted(client, pb):
    headers = {
        "webhook-id": "msg_spec",
        "webhook-timestamp": str(NOW),
        "webhook-signature": spec_signature("msg_spec", NOW, LEAD_BODY),
    }

    assert post(client, headers).status_code == 201


@pytest.mark.parametrize("secret", [WEBHOOK_OLD_SECRET, WEBHOOK_SECRET], ids=["old", "new"])
def test_either_rotated_secret_accepted(client, pb, secret):
    assert post(client, webhook_headers(LEAD_BODY, secret=secret)).status_code == 201


def test_tolerance_replaces_package_window(client, pb):
    # standardwebhooks alone rejects anything older than 300 seconds.
    headers = webhook_headers(LEAD_BODY, timestamp=NOW - 590)

    assert post(client, headers, source="patient").status_code == 201


@pytest.mark.parametrize("timestamp", [NOW - 61, NOW + 61], ids=["stale", "future"])
def test_short_tolerance_applies(monkeypatch, pb, timestamp):
    client = signed_client(monkeypatch, pb, hooks=webhook_source(signature_tolerance=60))

    assert_unauthorized(post(client, webhook_headers(LEAD_BODY, timestamp=timestamp)), pb)


def test_several_signatures_in_one_header_accepted(client, pb):
    valid = webhook_headers(LEAD_BODY)["webhook-signature"]
    other = webhook_headers(LEAD_BODY, secret="whsec_" + base64.b64encode(b"x" * 32).decode())["webhook-signature"]
    headers = {**webhook_headers(LEAD_BODY), "webhook-signature": f"v1a,{valid[3:]} not-a-signature {other} {valid}"}

    assert post(client, headers).status_code == 201


def test_duplicate_signature_headers_read_as_one_list(client, pb):
    headers = webhook_headers(LEAD_BODY)
    signature = headers.pop("webhook-signature")
    listed = [*headers.items(), ("webhook-signature", "v1,AAAA"), ("webhook-signature", signature)]

    assert post(client, listed).status_code == 201


SIGNED = webhook_headers(LEAD_BODY)
SIGNATURE = SIGNED["webhook-signature"]
ENCODED = SIGNATURE.removeprefix("v1,")
FLIPPED = ("A" if ENCODED[0] != "A" else "B") + ENCODED[1:]
STRANGER = "whsec_" + base64.b64encode(b"someone-else-entirely-0001").decode()


def _with(**changes: str) -> dict[str, str]:
    return {**SIGNED, **{name.replace("_", "-"): value for name, value in changes.items()}}


def _without(name: str) -> dict[str, str]:
    return {key: value for key, value in SIGNED.items() if key != name}


@pytest.mark.parametrize(
    "headers",
    [
        webhook_headers(LEAD_BODY + b" "),
        _with(webhook_signature=f"v1,{FLIPPED}"),
        _with(webhook_signature=f"v1,{ENCODED[:-4]}"),
        _with(webhook_signature=f"v1,{ENCODED[:-1]}"),
        _with(webhook_signature=f"v1a,{ENCODED}"),
        _with(webhook_signature=f"v2,{ENCODED}"),
        _with(webhook_signature=ENCODED),
        _with(webhook_signature=f"v1,{base64.b64decode(ENCODED).hex()}"),
        _with(webhook_signature=f"v1,{base64.urlsafe_b64encode(b'?' * 32).decode()}"),
        _with(webhook_signature="v1a"),
        _with(webhook_signature="v1,a,b"),
        _with(webhook_signature=",,,"),
        _with(webhook_signature="v1,ÿÿÿÿ"),
        webhook_headers(LEAD_BODY, secret=STRANGER),
        webhook_headers(LEAD_BODY, timestamp=NOW - 301),
        webhook_headers(LEAD_BODY, timestamp=NOW + 301),
        _with(webhook_timestamp=str(NOW + 1)),
        _with(webhook_timestamp=f"{NOW}.5"),
        _with(webhook_timestamp="1.7e9"),
        _with(webhook_timestamp="nan"),
        _with(webhook_timestamp="9" * 400),
        _with(webhook_timestamp="²" * 10),
        _with(webhook_id="msg_other"),
        _with(webhook_id="msg_ÿ"),
        _with(webhook_id="msg with spaces"),
        _with(webhook_id="m" * 257),
        _without("webhook-id"),
        _without("webhook-timestamp"),
        _without("webhook-signature"),
        _with(webhook_signature=""),
        {},
    ],
    ids=[
        "tampered-body",
        "tampered-signature",
        "truncated-signature",
        "bad-padding",
        "unknown-version-v1a",
        "unknown-version-v2",
        "missing-version",
        "wrong-encoding-hex",
        "wrong-alphabet",
        "version-without-signature",
        "extra-comma",
        "only-commas",
        "non-utf8-signature",
        "wrong-secret",
        "stale",
        "future",
        "timestamp-not-signed",
        "fractional-timestamp",
        "exponent-timestamp",
        "nan-timestamp",
        "huge-timestamp",
        "superscript-digits",
        "id-not-signed",
        "non-utf8-id",
        "id-with-spaces",
        "id-too-long",
        "missing-id",
        "missing-timestamp",
        "missing-signature",
        "empty-signature",
        "no-headers",
    ],
)
def test_bad_signature_answers_401(client, pb, headers):
    assert_unauthorized(post(client, headers), pb)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp"])
def test_duplicate_id_or_timestamp_answers_401(client, pb, name):
    listed = [*SIGNED.items(), (name, SIGNED[name])]

    assert_unauthorized(post(client, listed), pb)


def test_non_utf8_body_answers_401(client, pb):
    body = b'{"email": "\xff@example.com"}'
    # Signed over the raw bytes, which no Standard Webhooks sender can produce from a string.
    headers = {**SIGNED, "webhook-signature": spec_signature(SIGNED["webhook-id"], NOW, body)}

    assert_unauthorized(post(client, headers, body=body), pb)


def test_signed_empty_body_answers_400(client, pb):
    response = post(client, webhook_headers(b""), body=b"")

    assert response.status_code == 400
    assert response.get_json()["reason"] == "unparseable_body"
    assert len(pb.calls) == 0


def test_body_over_limit_answers_413(client, pb):
    body = b'{"note": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = post(client, webhook_headers(body), body=body)

    assert response.status_code == 413
    assert len(pb.calls) == 0


def test_rejection_does_not_echo_secret(client, pb):
    response = post(client, webhook_headers(LEAD_BODY, secret=STRANGER))

    text = response.get_data(as_text=True)
    assert WEBHOOK_KEY not in text
    assert "whsec_" not in text
