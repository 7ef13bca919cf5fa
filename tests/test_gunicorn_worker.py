"""The JSON envelope the gunicorn worker sends in place of gunicorn's HTML error pages."""

from __future__ import annotations

import json

import pytest

from app.gunicorn_worker import json_error_response


def parse(raw: bytes) -> tuple[str, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status_line, headers, json.loads(body)


@pytest.mark.parametrize(
    ("status_line", "expected_line", "reason"),
    [
        ("HTTP/1.1 400 Bad Request", "HTTP/1.1 400 Bad Request", "malformed_request"),
        ("HTTP/1.1 414 URI Too Long", "HTTP/1.1 414 URI Too Long", "request_line_too_long"),
        ("HTTP/1.1 431 Request Header Fields Too Large", "HTTP/1.1 431 Request Header Fields Too Large",
         "headers_too_large"),
        ("HTTP/1.1 500 Internal Server Error", "HTTP/1.1 500 Internal Server Error", "internal_error"),
        ("HTTP/1.1 418 Teapot", "HTTP/1.1 418 Teapot", "malformed_request"),
        ("", "HTTP/1.1 500 Internal Server Error", "internal_error"),
    ],
)
def test_status_kept_with_reason(status_line, expected_line, reason):
    line, headers, document = parse(json_error_response(status_line, https=False))

    assert line == expected_line
    assert document["status"] == "error"
    assert document["reason"] == reason
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(json.dumps(document).encode())


def test_security_headers_with_hsts_over_https():
    _, headers, _ = parse(json_error_response("HTTP/1.1 400 Bad Request", https=True))

    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert len(headers["X-Request-Id"]) == 32
