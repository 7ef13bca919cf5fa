"""Tests for PhoneBurnerClient: what is sent, how outcomes map, what is logged."""

from __future__ import annotations

import logging
import socket
from http.client import RemoteDisconnected

import pytest
import requests
import responses
import urllib3.exceptions
from urllib3.exceptions import (
    ClosedPoolError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from app.leads import Extra, Lead
from app.phoneburner.client import PhoneBurnerClient, make_session
from app.phoneburner.query import UrlTooLong
from app.phoneburner.replies import ReplyClass

BASE = "https://www.phoneburner.com/api/vendor/put_contact"
KEY = "vk-4f9c2e7a1b"
USER_AGENT = "phoneburner-lead-relay/0.1.0"
SUCCESS = "SUCCESS | https://www.phoneburner.com/ms/lead_redirect?upc=ATFHD3PP"
SECRET_URL = f"{BASE}?key={KEY}&user_id=123456"

LEAD = Lead(
    firstname="Jeff",
    lastname="Sample",
    email="jeff+pb@example.com",
    phone="+19495551212",
    extras=[Extra("Age", "35")],
)
EXPECTED_URL = (
    f"{BASE}?key={KEY}&user_id=123456&cm_id=YYYY&firstname=Jeff&lastname=Sample"
    "&email=jeff%2Bpb%40example.com&phone=9495551212&question%5B0%5D=Age&answer%5B0%5D=35"
)


def make_client(url: str = BASE, **overrides) -> PhoneBurnerClient:
    arguments = {
        "url": url,
        "vendor_key": KEY,
        "session": make_session(4, user_agent=USER_AGENT),
        "connect_timeout": 3.05,
        "read_timeout": 10.0,
    }
    arguments.update(overrides)
    return PhoneBurnerClient(**arguments)


def deliver(client: PhoneBurnerClient | None = None):
    client = client or make_client()
    return client.put_contact(lead=LEAD, user_id="123456", cm_id="YYYY")


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    """Return each record's message and every attribute, as text."""
    return [f"{record.getMessage()} {record.__dict__!r}" for record in records]


# What is sent


@responses.activate
def test_request_exact_url():
    responses.add(responses.GET, BASE, body=SUCCESS)
    delivery = deliver()
    assert len(responses.calls) == 1
    assert responses.calls[0].request.url == EXPECTED_URL
    assert delivery.request.url == EXPECTED_URL
    assert responses.calls[0].request.method == "GET"


@responses.activate
def test_request_url_sent_unchanged():
    # requests and urllib3 re-encode some characters; none of ours may change.
    responses.add(responses.GET, BASE, body=SUCCESS)
    values = ["a+b&c#d=e%f g", "Hélène 東京 👍", "line1\r\nline2", "[x]|{y}^`\\\"'<>"]
    lead = Lead(firstname=values[0], extras=[Extra(value, value) for value in values])
    delivery = make_client().put_contact(lead=lead, user_id="123456", cm_id="YYYY")
    assert responses.calls[0].request.url == delivery.request.url


@responses.activate
def test_request_timeouts_as_tuple():
    responses.add(responses.GET, BASE, body=SUCCESS)
    deliver()
    sent = responses.calls[0].request.req_kwargs
    assert sent["timeout"] == (3.05, 10.0)
    # Streaming lets the client stop a slow or huge body at its deadline and size cap.
    assert sent["stream"] is True


@responses.activate
def test_request_user_agent():
    responses.add(responses.GET, BASE, body=SUCCESS)
    deliver()
    assert responses.calls[0].request.headers["User-Agent"] == USER_AGENT


@responses.activate
def test_request_ignores_proxy_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    responses.add(responses.GET, BASE, body=SUCCESS)
    deliver()
    assert not responses.calls[0].request.req_kwargs["proxies"]


@responses.activate
def test_request_redirect_not_followed():
    elsewhere = "https://elsewhere.test/collect"
    responses.add(responses.GET, BASE, status=302, headers={"Location": elsewhere})
    responses.add(responses.GET, elsewhere, body=SUCCESS)
    delivery = deliver()
    assert len(responses.calls) == 1
    assert delivery.reply.reply_class is ReplyClass.UNRECOGNIZED
    assert delivery.reply.reason == "redirect"
    assert delivery.reply.http_status == 302


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@responses.activate
def test_request_redirect_elsewhere_keeps_key(status):
    elsewhere = f"https://collector.test/put_contact?key={KEY}&user_id=123456"
    responses.add(responses.GET, BASE, status=status, headers={"Location": elsewhere}, body=f"moved to {elsewhere}")
    responses.add(responses.GET, elsewhere.split("?")[0], body=SUCCESS)

    delivery = deliver()

    assert [call.request.url.split("?")[0] for call in responses.calls] == [BASE]
    assert delivery.reply.reply_class is ReplyClass.UNRECOGNIZED
    assert delivery.reply.reason == "redirect"
    assert delivery.reply.excerpt is None
    assert "collector.test" not in repr(delivery)


@responses.activate
def test_request_not_sent_when_too_long():
    client = make_client()
    lead = Lead(address1="x" * 9000)
    with pytest.raises(UrlTooLong):
        client.put_contact(lead=lead, user_id="123456", cm_id="YYYY")
    assert len(responses.calls) == 0


@responses.activate
def test_request_truncation_reported():
    responses.add(responses.GET, BASE, body=SUCCESS)
    client = make_client(max_url_bytes=600)
    lead = Lead(firstname="Jeff", extras=[Extra("Notes", "n" * 2000)])
    delivery = client.put_contact(lead=lead, user_id="123456", cm_id="YYYY")
    assert delivery.request.truncated == ("Notes",)
    assert len(responses.calls[0].request.url) <= 600


# Replies


@responses.activate
def test_reply_success():
    responses.add(responses.GET, BASE, body=SUCCESS)
    reply = deliver().reply
    assert reply.reply_class is ReplyClass.DELIVERED
    assert reply.outcome == "SUCCESS"
    assert reply.lead_url == "https://www.phoneburner.com/ms/lead_redirect?upc=ATFHD3PP"
    assert reply.http_status == 200
    assert reply.elapsed_ms is not None
    assert reply.elapsed_ms >= 0


@responses.activate
def test_reply_unavailable_retry_after():
    responses.add(responses.GET, BASE, status=503, headers={"Retry-After": "30"})
    reply = deliver().reply
    assert reply.reply_class is ReplyClass.UNAVAILABLE
    assert reply.reason == "http_503"
    assert reply.retry_after == 30.0


@responses.activate
def test_reply_duplicate():
    responses.add(responses.GET, BASE, body="ERROR|DUPLICATE EMAIL\r\n")
    reply = deliver().reply
    assert reply.reply_class is ReplyClass.DUPLICATE
    assert reply.reason == "DUPLICATE EMAIL"


@responses.activate
def test_reply_excerpt_key_scrubbed():
    body = f"<p>Not found: {SECRET_URL}</p> <p>key%3D{KEY}</p>"
    responses.add(responses.GET, BASE, status=404, body=body)
    reply = deliver().reply
    assert reply.reply_class is ReplyClass.UNRECOGNIZED
    assert reply.reason == "http_404"
    assert reply.excerpt is not None
    assert KEY not in reply.excerpt
    assert "key=REDACTED" in reply.excerpt


# Transport errors


def max_retry(reason: Exception) -> MaxRetryError:
    return MaxRetryError(None, SECRET_URL, reason)


TRANSPORT_ERRORS = [
    (requests.ConnectTimeout(f"timed out: {SECRET_URL}"), ReplyClass.UNREACHABLE, "connect_timeout"),
    (requests.ReadTimeout(f"read timed out: {SECRET_URL}"), ReplyClass.AMBIGUOUS, "read_timeout"),
    (
        requests.ConnectionError(max_retry(NewConnectionError(None, "Connection refused"))),
        ReplyClass.UNREACHABLE,
        "connection_failed",
    ),
    (
        requests.ConnectionError(
            max_retry(NameResolutionError("pb.test", None, socket.gaierror(-2, "unknown")))
        ),
        ReplyClass.UNREACHABLE,
        "connection_failed",
    ),
    (
        requests.ConnectionError(ClosedPoolError(None, "pool closed")),
        ReplyClass.UNREACHABLE,
        "connection_failed",
    ),
    (
        requests.exceptions.ProxyError(f"proxy refused {SECRET_URL}"),
        ReplyClass.UNREACHABLE,
        "connection_failed",
    ),
    (
        requests.ConnectionError(
            ProtocolError("Connection aborted.", RemoteDisconnected("closed without response"))
        ),
        ReplyClass.AMBIGUOUS,
        "connection_lost",
    ),
    (
        requests.ConnectionError(
            ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
        ),
        ReplyClass.AMBIGUOUS,
        "connection_lost",
    ),
    (
        requests.ConnectionError(ReadTimeoutError(None, SECRET_URL, "Read timed out.")),
        ReplyClass.AMBIGUOUS,
        "read_timeout",
    ),
    (requests.ConnectionError(f"unknown {SECRET_URL}"), ReplyClass.AMBIGUOUS, "connection_lost"),
    (
        requests.exceptions.ChunkedEncodingError(ProtocolError("Connection broken")),
        ReplyClass.AMBIGUOUS,
        "incomplete_response",
    ),
    (
        requests.exceptions.ContentDecodingError("bad gzip"),
        ReplyClass.AMBIGUOUS,
        "undecodable_response",
    ),
    (requests.exceptions.SSLError(f"bad certificate {SECRET_URL}"), ReplyClass.UNREACHABLE, "tls_failed"),
    (requests.exceptions.InvalidURL(f"invalid {SECRET_URL}"), ReplyClass.UNREACHABLE, "request_failed"),
    (requests.RequestException(f"odd {SECRET_URL}"), ReplyClass.UNREACHABLE, "request_failed"),
    (
        urllib3.exceptions.LocationParseError(SECRET_URL),
        ReplyClass.UNREACHABLE,
        "request_failed",
    ),
]


@pytest.mark.parametrize(("error", "reply_class", "reason"), TRANSPORT_ERRORS)
@responses.activate
def test_transport_error_mapped(error, reply_class, reason):
    responses.add(responses.GET, BASE, body=error)
    delivery = deliver()
    assert delivery.reply.reply_class is reply_class
    assert delivery.reply.reason == reason
    assert delivery.reply.http_status is None
    assert delivery.reply.elapsed_ms is not None
    assert delivery.reply.retryable


@pytest.mark.parametrize(("error", "reply_class", "reason"), TRANSPORT_ERRORS)
@responses.activate
def test_transport_error_key_not_logged(error, reply_class, reason, caplog):
    caplog.set_level(logging.DEBUG)
    responses.add(responses.GET, BASE, body=error)
    delivery = deliver()
    for text in record_texts(caplog.records):
        assert KEY not in text
    assert KEY not in repr(delivery)


def test_transport_refused_real_socket():
    # Bind and close a port so nothing listens on it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(url=f"http://127.0.0.1:{port}/api/vendor/put_contact")
    delivery = deliver(client)
    assert delivery.reply.reply_class is ReplyClass.UNREACHABLE
    assert delivery.reply.reason == "connection_failed"


# Logging and repr


@responses.activate
def test_log_one_debug_line(caplog):
    caplog.set_level(logging.DEBUG, logger="relay.phoneburner")
    responses.add(responses.GET, BASE, body=SUCCESS)
    deliver()
    records = [record for record in caplog.records if record.name == "relay.phoneburner"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.DEBUG
    assert record.event == "phoneburner.put_contact"
    assert record.reply_class == "delivered"
    assert record.http_status == 200
    assert record.elapsed_ms >= 0


@responses.activate
def test_log_no_key_or_lead_data(caplog):
    caplog.set_level(logging.DEBUG)
    responses.add(responses.GET, BASE, body=SUCCESS)
    deliver()
    assert caplog.records
    for text in record_texts(caplog.records):
        assert KEY not in text
        assert "Jeff" not in text
        assert "example.com" not in text
        assert "9495551212" not in text


def test_log_urllib3_request_line_redacted(caplog):
    caplog.set_level(logging.DEBUG)
    make_client()
    # The same call urllib3's connection pool makes after each response.
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "www.phoneburner.com",
        443,
        "GET",
        f"/api/vendor/put_contact?key={KEY}&user_id=123456&firstname=Jeff",
        "HTTP/1.1",
        200,
        None,
    )
    message = caplog.records[-1].getMessage()
    assert KEY not in message
    assert "Jeff" not in message
    assert '"GET /api/vendor/put_contact?REDACTED HTTP/1.1" 200' in message


@responses.activate
def test_repr_hides_key_and_lead():
    responses.add(responses.GET, BASE, body=SUCCESS)
    client = make_client()
    delivery = deliver(client)
    for text in (repr(delivery), repr(client)):
        assert KEY not in text
        assert "Jeff" not in text
        assert "example.com" not in text


# Construction


def test_session_pool_and_retries():
    session = make_session(16, user_agent=USER_AGENT)
    adapter = session.get_adapter("https://www.phoneburner.com/")
    assert session.get_adapter("http://127.0.0.1/") is adapter
    assert adapter._pool_connections == 1
    assert adapter._pool_maxsize == 16
    assert adapter._pool_block is False
    assert adapter.max_retries.total == 0
    assert session.trust_env is False
    assert session.headers["User-Agent"] == USER_AGENT


def test_session_pool_size_invalid():
    with pytest.raises(ValueError, match="pool_size must be at least 1"):
        make_session(0, user_agent=USER_AGENT)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"url": "ftp://pb.test/put_contact"}, "must be an http"),
        ({"url": "put_contact"}, "must be an http"),
        ({"vendor_key": ""}, "vendor_key is empty"),
        ({"connect_timeout": 0}, "timeouts must be positive"),
        ({"read_timeout": -1}, "timeouts must be positive"),
    ],
)
def test_client_invalid_settings(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_client(**overrides)


# Slow and oversized replies


@responses.activate
def test_huge_reply_read_only_to_cap():
    responses.add(responses.GET, BASE, body=SUCCESS + "\n" + "x" * 5_000_000)

    delivery = deliver()

    assert delivery.reply.reply_class is ReplyClass.DELIVERED


def test_dripping_reply_stops_at_deadline():
    import socket
    import threading
    import time as clock

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def drip() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        try:
            for _ in range(40):
                connection.sendall(b"x")
                clock.sleep(0.1)
        except OSError:
            pass
        connection.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    client = make_client(url=f"http://127.0.0.1:{port}/put_contact", connect_timeout=0.2, read_timeout=0.5)

    started = clock.monotonic()
    delivery = deliver(client)
    elapsed = clock.monotonic() - started

    assert delivery.reply.reply_class is ReplyClass.AMBIGUOUS
    assert delivery.reply.reason == "read_timeout"
    # The drip would last four seconds; the deadline is under one.
    assert elapsed < 3.0
    thread.join(timeout=5)
    listener.close()


def test_stalled_body_is_ambiguous():
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    release = threading.Event()

    def stall() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nSUCC")
        release.wait(5)
        connection.close()

    thread = threading.Thread(target=stall, daemon=True)
    thread.start()
    client = make_client(url=f"http://127.0.0.1:{port}/put_contact", connect_timeout=0.2, read_timeout=0.3)

    delivery = deliver(client)

    release.set()
    thread.join(timeout=5)
    listener.close()
    assert delivery.reply.reply_class is ReplyClass.AMBIGUOUS
    assert delivery.reply.reason == "read_timeout"
