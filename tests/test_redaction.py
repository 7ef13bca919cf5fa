"""The redactor: secrets, query strings, emails and phone numbers out of text; everything else kept."""

from __future__ import annotations

import pytest

from app.redaction import Redactor

SECRET = "vendor/key+with space&1"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([SECRET, "token-for-tests-aaaaaaaa", "abc", None, ""])


@pytest.mark.parametrize(
    "form",
    [SECRET, "vendor%2Fkey%2Bwith%20space%261", "vendor%2Fkey%2Bwith+space%261"],
    ids=["raw", "percent-encoded", "plus-encoded"],
)
def test_secret_replaced_in_every_encoding(redactor, form):
    assert redactor.redact(f"before {form} after") == "before REDACTED after"


def test_secret_containing_another_replaced_whole():
    redactor = Redactor(["token-one", "token-one-and-more"])

    assert redactor.redact_secrets("x token-one-and-more y") == "x REDACTED y"


def test_short_secret_ignored(redactor):
    assert redactor.redact_secrets("abc abcd") == "abc abcd"


def test_redact_secrets_keeps_personal_data(redactor):
    text = "token-for-tests-aaaaaaaa ada@example.com 9495550181"

    assert redactor.redact_secrets(text) == "REDACTED ada@example.com 9495550181"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET /api/vendor/put_contact?key=k1&user_id=1&email=a%40b.example HTTP/1.1",
            "GET /api/vendor/put_contact?REDACTED HTTP/1.1",
        ),
        ("POST /v1/leads/form?token=abc123 HTTP/1.1", "POST /v1/leads/form?REDACTED HTTP/1.1"),
        ('"url": "https://pb.example/put_contact?key=x"', '"url": "https://pb.example/put_contact?REDACTED"'),
        ("what? nothing to hide", "what? nothing to hide"),
    ],
)
def test_query_string_replaced(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("soren.aberg@example.com", "s***@example.com"),
        ("mateo.gutierrez+web@example.com", "m***@example.com"),
        ("O'Brien@sub.example.co.uk", "O***@sub.example.co.uk"),
        ("zoë@example.com", "z***@example.com"),
        ("john%40example.com", "j***%40example.com"),
    ],
)
def test_email_masked(redactor, email, masked):
    assert redactor.redact(f"to <{email}>.") == f"to <{masked}>."


@pytest.mark.parametrize(
    "phone",
    [
        "9495550133",
        "19495550133",
        "+19495550133",
        "(949) 555-0133",
        "949-555-0133",
        "949.555.0133",
        "949 555 0133",
        "1-949-555-0133",
        "+1 (949) 555-0133",
        "+1 949 555 0133",
        "%2B19495550133",
        "%2B1%20%28949%29%20555-0133",
        "+44 20 7946 0933",
        "+442079460933",
        "020 7946 0933",
    ],
)
def test_phone_masked_to_last_two_digits(redactor, phone):
    assert redactor.redact(f"phone={phone};") == "phone=***33;"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("tel:949 (555) 0133", "tel:***33"),
        # Grouped as a port and a process id, but after no URL's host.
        ("tel:555 (1234567)", "tel:***67)"),
        ("phone:8080 (5551234", "phone:***34"),
        ("http://host:8080 (5551234 x", "http://host:***34 x"),
    ],
)
def test_phone_after_colon_masked(redactor, text, masked):
    assert redactor.redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-14T18:20:00+0000",
        "2025-03-14 18:20:00",
        "203.0.113.40",
        "192.168.100.200:8080",
        "1741976400.123",
        "elapsed_ms=1234.5",
        "user_id=123456 cm_id=YYYY",
        "lead 1a9f64f1a9f64f1a9f64f1a9f64f1234",
        "a3c1f2e9-0000-4000-8000-123456789012",
        "gclid=Cj0KCQ-fixture-0003",
        "555-0142",
        "12345678901234567890",
        "Listening at: http://127.0.0.1:8000 (48213)",
        "Listening at: http://[::1]:443 (7)",
    ],
)
def test_other_numbers_kept(redactor, text):
    assert redactor.redact(text) == text


def test_redaction_idempotent(redactor):
    once = redactor.redact(f"{SECRET} ada@example.com (949) 555-0181 /p?token=x")

    assert redactor.redact(once) == once
    assert once == "REDACTED a***@example.com ***81 /p?REDACTED"
