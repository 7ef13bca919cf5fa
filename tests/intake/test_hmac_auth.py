"""auth = "hmac": a generic HMAC over the raw body, attacked header by header."""

from __future__ import annotations

import base64

import pytest

from tests.intake.signing import (
    HMAC_OLD_SECRET,
    HMAC_SECRET,
    JSON,
    LEAD_BODY,
    MAX_BODY_BYTES,
    NOW,
    assert_unauthorized,
    hmac_digest,
    hmac_headers,
    hmac_source,
    signed_client,
)


@pytest.fixture
def client(monkeypatch, pb):
    return signed_client(
        monkeypatch,
        pb,
        signed=hmac_source(),
        b64=hmac_source(encoding="base64", prefix=None, timestamp_header=None, header="X-Body-Signature"),
        sha1=hmac_source(algorithm="sha1", prefix="sha1=", timestamp_header=None),
        sha512=hmac_source(algorithm="sha512", prefix="", timestamp_header=None),
    )


def post(client, headers, body=LEAD_BODY, source="signed", content_type=JSON):
    return client.post(f"/v1/leads/{source}", data=body, headers=headers, content_type=content_type)


def test_valid_signature_delivers(client, pb):
    response = post(client, hmac_headers(LEAD_BODY))

    assert response.status_code == 201
    assert len(pb.calls) == 1


def test_uppercase_hex_accepted(client, pb):
    headers = hmac_headers(LEAD_BODY)
    headers["X-Signature"] = "SHA256=" + headers["X-Signature"].removeprefix("sha256=").upper()

    assert post(client, headers).status_code == 201


@pytest.mark.parametrize("secret", [HMAC_OLD_SECRET, HMAC_SECRET], ids=["old", "new"])
def test_either_rotated_secret_accepted(client, pb, secret):
    response = post(client, hmac_headers(LEAD_BODY, secret=secret))

    assert response.status_code == 201


@pytest.mark.parametrize("boundary", [NOW - 300, NOW + 300], ids=["oldest", "newest"])
def test_timestamp_at_tolerance_accepted(client, pb, boundary):
    assert post(client, hmac_headers(LEAD_BODY, timestamp=boundary)).status_code == 201


def _tampered(headers: dict[str, str], **changes: str) -> dict[str, str]:
    return {**headers, **changes}


SIGNED = hmac_headers(LEAD_BODY)
HEX = SIGNED["X-Signature"].removeprefix("sha256=")
FLIPPED = ("0" if HEX[0] != "0" else "1") + HEX[1:]
BASE64 = base64.b64encode(bytes.fromhex(HEX)).decode()


@pytest.mark.parametrize(
    "headers",
    [
        hmac_headers(LEAD_BODY + b" "),
        _tampered(SIGNED, **{"X-Signature": f"sha256={FLIPPED}"}),
        _tampered(SIGNED, **{"X-Signature": f"sha256={HEX[:-2]}"}),
        _tampered(SIGNED, **{"X-Signature": f"sha256={HEX[:-1]}"}),
        _tampered(SIGNED, **{"X-Signature": f"sha256={HEX}00"}),
        _tampered(SIGNED, **{"X-Signature": f"sha1={HEX}"}),
        _tampered(SIGNED, **{"X-Signature": HEX}),
        _tampered(SIGNED, **{"X-Signature": f"sha256={BASE64}"}),
        _tampered(SIGNED, **{"X-Signature": f"sha256= {HEX}"}),
        _tampered(SIGNED, **{"X-Signature": f"sha256={HEX[:32]} {HEX[32:]}"}),
        hmac_headers(LEAD_BODY, secret="some-other-secret"),
        hmac_headers(LEAD_BODY, timestamp=NOW - 301),
        hmac_headers(LEAD_BODY, timestamp=NOW + 301),
        _tampered(SIGNED, **{"X-Timestamp": str(NOW + 1)}),
        _tampered(SIGNED, **{"X-Timestamp": f"{NOW}.0"}),
        _tampered(SIGNED, **{"X-Timestamp": "-1"}),
        _tampered(SIGNED, **{"X-Timestamp": "9" * 400}),
        _tampered(SIGNED, **{"X-Timestamp": "١٧٤١٩٧٦٤٠٠".encode().decode("latin-1")}),
        _tampered(SIGNED, **{"X-Signature": "sha256=" + "ÿ" * 64}),
        {"X-Timestamp": str(NOW)},
        {"X-Signature": SIGNED["X-Signature"]},
        _tampered(SIGNED, **{"X-Signature": ""}),
        {},
    ],
    ids=[
        "tampered-body",
        "tampered-signature",
        "truncated-signature",
        "odd-length-signature",
        "extended-signature",
        "wrong-prefix",
        "missing-prefix",
        "wrong-encoding",
        "space-after-prefix",
        "space-inside-hex",
        "wrong-secret",
        "stale",
        "future",
        "timestamp-not-signed",
        "fractional-timestamp",
        "negative-timestamp",
        "huge-timestamp",
        "non-ascii-digits",
        "non-utf8-signature",
        "missing-signature",
        "missing-timestamp",
        "empty-signature",
        "no-headers",
    ],
)
def test_bad_signature_answers_401(client, pb, headers):
    assert_unauthorized(post(client, headers), pb)


def test_duplicate_signature_headers_answer_401(client, pb):
    signature = SIGNED["X-Signature"]
    headers = [("X-Signature", signature), ("X-Signature", signature), ("X-Timestamp", str(NOW))]

    assert_unauthorized(post(client, headers), pb)


def test_duplicate_timestamp_headers_answer_401(client, pb):
    headers = [("X-Signature", SIGNED["X-Signature"]), ("X-Timestamp", str(NOW)), ("X-Timestamp", str(NOW))]

    assert_unauthorized(post(client, headers), pb)


def test_signed_non_utf8_body_answers_400(client, pb):
    body = b'{"email": "\xff\xfe@example.com"}'

    response = post(client, hmac_headers(body), body=body)

    assert response.status_code == 400
    assert response.get_json()["reason"] == "unparseable_body"
    assert len(pb.calls) == 0


def test_unsigned_non_utf8_body_answers_401(client, pb):
    body = b'{"email": "\xff\xfe@example.com"}'

    assert_unauthorized(post(client, hmac_headers(LEAD_BODY), body=body), pb)


def test_signed_empty_body_answers_400(client, pb):
    response = post(client, hmac_headers(b""), body=b"")

    assert response.status_code == 400
    assert len(pb.calls) == 0


def test_empty_body_unsigned_answers_401(client, pb):
    assert_unauthorized(post(client, hmac_headers(LEAD_BODY), body=b""), pb)


def test_body_over_limit_answers_413(client, pb):
    body = b'{"note": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = post(client, hmac_headers(body), body=body)

    assert response.status_code == 413
    assert len(pb.calls) == 0


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(hmac_digest(LEAD_BODY, timestamp=None)).decode(),
        base64.urlsafe_b64encode(hmac_digest(LEAD_BODY, timestamp=None)).decode(),
        base64.urlsafe_b64encode(hmac_digest(LEAD_BODY, timestamp=None)).decode().rstrip("="),
    ],
    ids=["standard", "url-safe", "unpadded"],
)
def test_base64_alphabets_accepted(client, pb, encoded):
    response = post(client, {"X-Body-Signature": encoded}, source="b64")

    assert response.status_code == 201


def test_base64_source_rejects_hex(client, pb):
    headers = {"X-Body-Signature": hmac_digest(LEAD_BODY, timestamp=None).hex()}

    assert_unauthorized(post(client, headers, source="b64"), pb)


@pytest.mark.parametrize(("source", "algorithm", "prefix"), [("sha1", "sha1", "sha1="), ("sha512", "sha512", "")])
def test_other_algorithms_verified(client, pb, source, algorithm, prefix):
    digest = hmac_digest(LEAD_BODY, timestamp=None, algorithm=algorithm)

    sha256_digest = hmac_digest(LEAD_BODY, timestamp=None, algorithm="sha256")

    sha256_signed = post(client, {"X-Signature": prefix + sha256_digest.hex()}, source=source)
    valid = post(client, {"X-Signature": prefix + digest.hex()}, source=source)

    assert sha256_signed.status_code == 401
    assert valid.status_code == 201


def test_token_does_not_replace_signature(client, pb):
    response = client.post(
        "/v1/leads/signed?token=token-for-tests-aaaaaaaa",
        data=LEAD_BODY,
        headers={"Authorization": "Bearer token-for-tests-aaaaaaaa"},
        content_type=JSON,
    )

    assert_unauthorized(response, pb)


def test_rejection_names_header_without_secret(client, pb):
    response = post(client, {"X-Timestamp": str(NOW)})

    message = response.get_json()["message"]
    assert "X-Signature" in message
    assert HMAC_SECRET not in message
