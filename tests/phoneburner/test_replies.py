"""Tests for the put_contact reply parser and its classification table."""

from __future__ import annotations

import pytest

from app.phoneburner.replies import (
    Reply,
    ReplyClass,
    make_excerpt,
    parse_reply,
    parse_retry_after,
)

LEAD_URL = "https://www.phoneburner.com/ms/lead_redirect?upc=ATFHD3PP"

DELIVERED = ReplyClass.DELIVERED
DUPLICATE = ReplyClass.DUPLICATE
REJECTED = ReplyClass.LEAD_REJECTED
CONFIG = ReplyClass.CONFIG_FAULT
UNAVAILABLE = ReplyClass.UNAVAILABLE
UNRECOGNIZED = ReplyClass.UNRECOGNIZED


def parse(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return parse_reply(status=status, body=body, headers=headers or {})


# Every reply the vendor documents, as written there.
DOCUMENTED = [
    (b"SUCCESS | " + LEAD_URL.encode(), DELIVERED, "SUCCESS", None, LEAD_URL),
    (b"FAILURE|UNKNOWN USER", CONFIG, "FAILURE", "UNKNOWN USER", None),
    (b"FAILURE|INVALID EMAIL", REJECTED, "FAILURE", "INVALID EMAIL", None),
    (b"ERROR|IDNUMBER IS REQUIRED", CONFIG, "ERROR", "IDNUMBER IS REQUIRED", None),
    (b"ERROR|UNKNOWN USER", CONFIG, "ERROR", "UNKNOWN USER", None),
    (b"ERROR|CANCELLED USER", CONFIG, "ERROR", "CANCELLED USER", None),
    (b"ERROR|INVALID EMAIL", REJECTED, "ERROR", "INVALID EMAIL", None),
    (b"ERROR|DUPLICATE EMAIL", DUPLICATE, "ERROR", "DUPLICATE EMAIL", None),
    (b"ERROR|CM_ID IS REQUIRED", CONFIG, "ERROR", "CM_ID IS REQUIRED", None),
    (b"ERROR|CM_ID IS INVALID", CONFIG, "ERROR", "CM_ID IS INVALID", None),
    (b"ERROR|BAD RESPONSE TYPE", CONFIG, "ERROR", "BAD RESPONSE TYPE", None),
]

# The same replies written the other ways a server might send them.
VARIANTS = [
    (b"SUCCESS|" + LEAD_URL.encode(), DELIVERED, "SUCCESS", None, LEAD_URL),
    (b"SUCCESS", DELIVERED, "SUCCESS", None, None),
    (b"SUCCESS |", DELIVERED, "SUCCESS", None, None),
    (b"success | " + LEAD_URL.encode(), DELIVERED, "SUCCESS", None, LEAD_URL),
    (b"Success|http://pb.test/lead?id=1", DELIVERED, "SUCCESS", None, "http://pb.test/lead?id=1"),
    (b"SUCCESS | not a url", DELIVERED, "SUCCESS", None, None),
    (b"SUCCESS | javascript:alert(1)", DELIVERED, "SUCCESS", None, None),
    (b"SUCCESS | " + LEAD_URL.encode() + b"\r\n", DELIVERED, "SUCCESS", None, LEAD_URL),
    (b"\xef\xbb\xbfSUCCESS | " + LEAD_URL.encode(), DELIVERED, "SUCCESS", None, LEAD_URL),
    (b"\r\n\r\n  SUCCESS\r\n", DELIVERED, "SUCCESS", None, None),
    (b"FAILURE | DUPLICATE EMAIL", DUPLICATE, "FAILURE", "DUPLICATE EMAIL", None),
    (b"ERROR |DUPLICATE EMAIL", DUPLICATE, "ERROR", "DUPLICATE EMAIL", None),
    (b"error|duplicate email", DUPLICATE, "ERROR", "DUPLICATE EMAIL", None),
    (b"Failure|Invalid Email", REJECTED, "FAILURE", "INVALID EMAIL", None),
    (b"FAILURE|  UNKNOWN\t USER  ", CONFIG, "FAILURE", "UNKNOWN USER", None),
    (b"ERROR|CM_ID IS INVALID\r\n", CONFIG, "ERROR", "CM_ID IS INVALID", None),
    (b"ERROR|CM_ID IS INVALID\n", CONFIG, "ERROR", "CM_ID IS INVALID", None),
    (b"\xef\xbb\xbfFAILURE|UNKNOWN USER", CONFIG, "FAILURE", "UNKNOWN USER", None),
    (b"\n\n   \r\nERROR|CANCELLED USER\nsecond line", CONFIG, "ERROR", "CANCELLED USER", None),
    (b"ERROR|  cm_id is required  ", CONFIG, "ERROR", "CM_ID IS REQUIRED", None),
]


@pytest.mark.parametrize(("body", "reply_class", "outcome", "reason", "lead_url"), DOCUMENTED)
def test_reply_documented(body, reply_class, outcome, reason, lead_url):
    reply = parse(body)
    assert reply.reply_class is reply_class
    assert reply.outcome == outcome
    assert reply.reason == reason
    assert reply.lead_url == lead_url
    assert reply.http_status == 200
    assert reply.excerpt is None


@pytest.mark.parametrize(("body", "reply_class", "outcome", "reason", "lead_url"), VARIANTS)
def test_reply_variant(body, reply_class, outcome, reason, lead_url):
    reply = parse(body)
    assert reply.reply_class is reply_class
    assert reply.outcome == outcome
    assert reply.reason == reason
    assert reply.lead_url == lead_url
    assert reply.excerpt is None


UNRECOGNIZED_BODIES = [
    (b"", None, None),
    (b"   \r\n\r\n", None, None),
    (b"OK", None, "OK"),
    (b"SUCCESSFUL", None, "SUCCESSFUL"),
    (b"FAILURE|SOMETHING NEW", "FAILURE", "FAILURE|SOMETHING NEW"),
    (b"ERROR|", "ERROR", "ERROR|"),
    (b"ERROR", "ERROR", "ERROR"),
    (b"WARNING|DUPLICATE EMAIL", None, "WARNING|DUPLICATE EMAIL"),
    (b'{"status": "success"}', None, '{"status": "success"}'),
    (
        b"<!DOCTYPE html>\n<html><head><title>Maintenance</title></head></html>",
        None,
        "<!DOCTYPE html> <html><head><title>Maintenance</title></head></html>",
    ),
    (b"\xff\xfeS\x00", None, "\ufffd\ufffdS"),
]


@pytest.mark.parametrize(("body", "outcome", "excerpt"), UNRECOGNIZED_BODIES)
def test_reply_unrecognized_body(body, outcome, excerpt):
    reply = parse(body)
    assert reply.reply_class is UNRECOGNIZED
    assert reply.outcome == outcome
    assert reply.reason == "unrecognized_reply"
    assert reply.lead_url is None
    assert reply.excerpt == excerpt
    assert reply.http_status == 200


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_status_unavailable_without_retry_after(status):
    reply = parse(b"ERROR|UNKNOWN USER", status=status)
    assert reply.reply_class is UNAVAILABLE
    assert reply.outcome is None
    assert reply.reason == f"http_{status}"
    assert reply.http_status == status
    assert reply.retry_after is None
    assert reply.excerpt is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_status_unavailable_retry_after_seconds(status):
    reply = parse(b"<html>busy</html>", status=status, headers={"Retry-After": "120"})
    assert reply.reply_class is UNAVAILABLE
    assert reply.retry_after == 120.0


def test_status_unavailable_retry_after_date():
    reply = parse(b"", status=503, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert reply.reply_class is UNAVAILABLE
    # A date in the past means "now".
    assert reply.retry_after == 0.0


def test_status_unavailable_retry_after_future_date():
    reply = parse(b"", status=429, headers={"RETRY-AFTER": "Fri, 01 Jan 2100 00:00:00 GMT"})
    # Far dates are capped at one day.
    assert reply.retry_after == 86_400.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 480.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 480.0),
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_forms(value, expected):
    # 1445412000 is Wed, 21 Oct 2015 07:20:00 GMT.
    assert parse_retry_after(value, now=1445412000) == expected


@pytest.mark.parametrize("url", ["https://www.phoneburner.com/ms/x?upc=A\x00B", "https://x.test/\x1b[2J"])
def test_success_with_control_character_has_no_url(url):
    reply = parse(f"SUCCESS | {url}".encode())

    assert reply.reply_class is DELIVERED
    assert reply.lead_url is None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_status_redirect(status):
    body = b'<a href="https://example.com/put_contact?key=SECRET">moved</a>'
    reply = parse(body, status=status, headers={"Location": "https://example.com/"})
    assert reply.reply_class is UNRECOGNIZED
    assert reply.reason == "redirect"
    assert reply.http_status == status
    assert reply.excerpt is None
    assert reply.lead_url is None


@pytest.mark.parametrize("status", [400, 401, 403, 404])
@pytest.mark.parametrize(
    ("body", "reply_class", "outcome", "reason"),
    [
        (b"FAILURE|UNKNOWN USER", CONFIG, "FAILURE", "UNKNOWN USER"),
        (b"ERROR|DUPLICATE EMAIL", DUPLICATE, "ERROR", "DUPLICATE EMAIL"),
        (b"ERROR|INVALID EMAIL", REJECTED, "ERROR", "INVALID EMAIL"),
    ],
)
def test_status_client_error_known_body(status, body, reply_class, outcome, reason):
    reply = parse(body, status=status)
    assert reply.reply_class is reply_class
    assert reply.outcome == outcome
    assert reply.reason == reason
    assert reply.http_status == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 201, 204])
def test_status_other_unknown_body(status):
    reply = parse(b"<h1>Forbidden</h1>", status=status)
    assert reply.reply_class is UNRECOGNIZED
    assert reply.outcome is None
    assert reply.reason == f"http_{status}"
    assert reply.excerpt == "<h1>Forbidden</h1>"


def test_status_success_body_on_404():
    reply = parse(b"SUCCESS | " + LEAD_URL.encode(), status=404)
    assert reply.reply_class is DELIVERED
    assert reply.lead_url == LEAD_URL


def test_excerpt_max_length():
    reply = parse(b"x" * 1000)
    assert reply.excerpt == "x" * 120


def test_excerpt_control_characters_removed():
    body = "bad\x1b[31m red\x00\x07 line\r\nforged INFO line\u202eevil".encode()
    reply = parse(body)
    assert reply.excerpt == "bad [31m red line forged INFO line evil"


def test_excerpt_empty_after_cleaning():
    assert make_excerpt("\x00\x01\r\n\t") is None


def test_excerpt_never_on_success():
    reply = parse(b"SUCCESS | " + LEAD_URL.encode() + b"\n" + b"x" * 500)
    assert reply.reply_class is DELIVERED
    assert reply.excerpt is None


@pytest.mark.parametrize(
    ("reply_class", "retryable"),
    [
        (ReplyClass.DELIVERED, False),
        (ReplyClass.DUPLICATE, False),
        (ReplyClass.LEAD_REJECTED, False),
        (ReplyClass.CONFIG_FAULT, False),
        (ReplyClass.UNREACHABLE, True),
        (ReplyClass.AMBIGUOUS, True),
        (ReplyClass.UNAVAILABLE, True),
        (ReplyClass.UNRECOGNIZED, True),
    ],
)
def test_retryable_by_class(reply_class, retryable):
    assert Reply(reply_class=reply_class).retryable is retryable


def test_reply_class_values():
    assert [item.value for item in ReplyClass] == [
        "delivered",
        "duplicate",
        "lead_rejected",
        "config_fault",
        "unreachable",
        "ambiguous",
        "unavailable",
        "unrecognized",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("9" * 400, 86_400.0), ("251605884620", 86_400.0), ("-5", 0.0), ("86400", 86_400.0)],
)
def test_retry_after_clamped(value, expected):
    assert parse_retry_after(value) == expected
