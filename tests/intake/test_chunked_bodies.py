"""Bodies without a Content-Length (chunked), which the server ends and the relay must bound itself."""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest

from tests.conftest import PB_URL, SUCCESS, auth, build_app
from tests.intake.signing import MAX_BODY_BYTES, hmac_headers, hmac_source, signed_client

LIMIT = 20000
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client(document, pb):
    document["limits"] = {"max_body_bytes": LIMIT}
    pb.get(PB_URL, body=SUCCESS)
    return build_app(document).test_client()


def post_chunked(client, body: bytes, content_type: str, headers: dict[str, str], source: str = "landing"):
    """Post the body as a stream without Content-Length, as gunicorn passes a chunked body."""
    # Werkzeug ignores the Content-Length its test client sets when the body is chunked.
    headers = {**headers, "Transfer-Encoding": "chunked"}
    response = client.post(
        f"/v1/leads/{source}",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers=headers,
        # Gunicorn sets this: it ends a chunked body itself, so werkzeug reads the stream as it is.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.request.content_length is None
    return response


def form_body(size: int) -> bytes:
    """Return a lead form of exactly `size` bytes, its last field padded."""
    head = urlencode({"email": "ann@example.com", "first_name": "Ann"}) + "&pad="
    return (head + "x" * (size - len(head))).encode()


def multipart_body(size: int) -> bytes:
    part = b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nann@example.com\r\n'
    filler = b'--b\r\nContent-Disposition: form-data; name="pad"\r\n\r\n' + b"x" * size + b"\r\n"
    return part + filler + b"--b--\r\n"


def assert_body_too_large(response, pb) -> None:
    assert response.status_code == 413
    assert response.get_json()["reason"] == "too_large"
    assert "[limits].max_body_bytes" in response.get_json()["message"]
    assert len(pb.calls) == 0


def test_form_over_limit_rejected(client, pb):
    fields = {"email": "ann@example.com", **{f"q{number}": "y" * 14000 for number in range(40)}}

    response = post_chunked(client, urlencode(fields).encode(), FORM, auth())

    assert_body_too_large(response, pb)


def test_json_over_limit_rejected(client, pb):
    body = json.dumps({"email": "ann@example.com", "notes": "n" * 30000}).encode()

    response = post_chunked(client, body, "application/json", auth())

    assert_body_too_large(response, pb)


def test_multipart_over_limit_rejected(client, pb):
    response = post_chunked(client, multipart_body(30000), "multipart/form-data; boundary=b", auth())

    assert_body_too_large(response, pb)


def test_form_one_byte_over_rejected(client, pb):
    response = post_chunked(client, form_body(LIMIT + 1), FORM, auth())

    assert_body_too_large(response, pb)


def test_form_at_limit_delivered(document, pb):
    # The pad value fits when max_value_chars allows it, so only the body's size is at its limit.
    document["limits"] = {"max_body_bytes": LIMIT, "max_value_chars": LIMIT}
    pb.get(PB_URL, body=SUCCESS)
    client = build_app(document).test_client()

    response = post_chunked(client, form_body(LIMIT), FORM, auth())

    assert response.status_code == 201
    assert len(pb.calls) == 1


def test_signed_body_over_limit_rejected(monkeypatch, pb):
    client = signed_client(monkeypatch, pb, signed=hmac_source())
    body = json.dumps({"email": "ann@example.com", "notes": "n" * MAX_BODY_BYTES}).encode()

    response = post_chunked(client, body, "application/json", hmac_headers(body), source="signed")

    assert_body_too_large(response, pb)
