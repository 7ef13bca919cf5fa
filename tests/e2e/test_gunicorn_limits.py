"""How gunicorn and the relay respond to malformed, oversized and slow requests, over raw sockets."""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import FORM_CONFIG, TOKEN, launch_relay, stop

SERVER = """
[server]
public_url = "https://relay.example.com"
"""

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "strict-transport-security": "max-age=31536000",
}


@pytest.fixture(scope="module")
def limited_relay(simulator, tmp_path_factory):
    directory = tmp_path_factory.mktemp("limited")
    config = directory / "relay.toml"
    sim_port = simulator.base.rsplit(":", 1)[1]
    config_text = FORM_CONFIG.format(sim_port=sim_port, store_path=directory / "relay.db")
    assert "allow_insecure_url = true\n" in config_text
    # One call slot, so concurrent posts show the bound under gevent.
    config_text = config_text.replace("allow_insecure_url = true\n", "allow_insecure_url = true\nmax_concurrent = 1\n")
    assert "[limits]\n" in config_text
    config_text = config_text.replace("[limits]\n", "[limits]\nbody_timeout = 1\nmax_body_bytes = 20000\n")
    config.write_text(config_text + SERVER)

    processes, relay = launch_relay(config, directory / "relay.log", web_workers=1, with_worker=False)
    yield relay
    for process in processes:
        stop(process)


class RawResponse:
    """An HTTP response read off a raw socket."""

    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split(" ")[1])
        self.headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def json(self) -> dict:
        return json.loads(self.body)


def exchange(relay, *chunks: bytes) -> RawResponse:
    """Send the chunks on one connection and read the response until the relay closes it."""
    host, port = relay.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as connection:
        for chunk in chunks:
            connection.sendall(chunk)
        received = b""
        while True:
            data = connection.recv(65536)
            if not data:
                break
            received += data
    return RawResponse(received)


@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (b"GARBAGE\r\n\r\n", 400, "malformed_request"),
        (b"POST /v1/leads/form HTTP/9.9\r\nHost: x\r\n\r\n", 400, "malformed_request"),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_line_too_long"),
        (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-Filler-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
         431, "headers_too_large"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431, "headers_too_large"),
    ],
    ids=["garbage-line", "bad-version", "long-line", "many-headers", "large-header"],
)
def test_gunicorn_rejections_are_json(limited_relay, request_bytes, status, reason):
    answer = exchange(limited_relay, request_bytes)

    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["status"] == "error"
    assert answer.json()["reason"] == reason
    assert b"<html" not in answer.body


def test_gunicorn_rejection_has_security_headers(limited_relay):
    answer = exchange(limited_relay, b"GARBAGE\r\n\r\n")

    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value


def test_app_responses_have_security_headers(limited_relay):
    answers = [
        requests.get(f"{limited_relay.base}/healthz", timeout=5),
        requests.get(f"{limited_relay.base}/nothing-here", timeout=5),
        limited_relay.post("form", "email=a%40example.com", "application/x-www-form-urlencoded",
                           headers={"Authorization": "Bearer wrong-token-000000"}),
    ]

    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, (answer.url, name)


def test_no_control_socket_in_home(limited_relay):
    # gunicorn's control socket would be one path for every relay of the user, and the relay opens none.
    home = limited_relay.log_path.parent

    assert requests.get(f"{limited_relay.base}/healthz", timeout=10).status_code == 200
    assert not (home / ".gunicorn").exists()


def test_slow_body_gets_408_and_close(limited_relay):
    head = (
        "POST /v1/leads/form HTTP/1.1\r\nHost: relay\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 200\r\n\r\n"
    ).encode()

    # Ten bytes of the promised 200, then silence. The relay must respond and close, not wait for the rest.
    answer = exchange(limited_relay, head + b"email=a%40e")

    assert answer.status == 408
    assert answer.headers["connection"] == "close"
    assert answer.json()["reason"] == "body_timeout"
    assert "[limits].body_timeout" in answer.json()["message"]


def test_slow_headers_closed_without_response(limited_relay):
    host, port = limited_relay.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(b"POST /v1/leads/form HTTP/1.1\r\nHost: relay\r\n")

        # Gunicorn gives the headers `keepalive` seconds, then closes the connection.
        assert connection.recv(65536) == b""


def test_complete_body_still_served_after_slow_one(limited_relay, simulator):
    exchange(limited_relay, b"POST /v1/leads/form HTTP/1.1\r\nHost: r\r\nContent-Length: 50\r\n\r\nx")

    answer = limited_relay.post("form", "email=after.slow%40example.com&first_name=Ann",
                                "application/x-www-form-urlencoded")

    assert answer.status_code == 201


def test_one_call_slot_queues_concurrent_posts(limited_relay, simulator):
    # Each call takes a second, far longer than the posts take to arrive, and the 3 s inline budget leaves
    # a read timeout under 2 s, so a post that finds the one slot busy does not wait for it.
    requests.post(f"{simulator.base}/_sim/faults", json={"sticky": "delay:1000"}, timeout=5).raise_for_status()
    senders = 5
    barrier = threading.Barrier(senders)

    def send(number):
        barrier.wait(timeout=30)
        body = f"first_name=Ann&email=ann.slot{number}%40example.com"
        return limited_relay.post("form", body, "application/x-www-form-urlencoded")

    with ThreadPoolExecutor(max_workers=senders) as pool:
        answers = list(pool.map(send, range(senders)))

    codes = [answer.status_code for answer in answers]
    deferred = [answer for answer in answers if answer.status_code == 202]
    assert codes.count(201) >= 1
    assert codes.count(201) + len(deferred) == senders
    assert deferred
    assert all(answer.json()["reason"] == "concurrency_limit" for answer in deferred)
    assert len([call for call in simulator.received() if "slot" in json.dumps(call)]) == codes.count(201)


def chunked_post(body: bytes, content_type: str, chunk_size: int = 4096) -> bytes:
    """Return a raw POST to the form source with the body in chunked transfer coding and no Content-Length."""
    head = (
        "POST /v1/leads/form HTTP/1.1\r\nHost: relay\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunks = [body[start:start + chunk_size] for start in range(0, len(body), chunk_size)]
    return head + b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"email=chunked.big%40example.com&" + b"&".join(b"q%d=%s" % (n, b"y" * 15000) for n in range(40)),
         "application/x-www-form-urlencoded"),
        (json.dumps({"email": "chunked.big@example.com", "notes": "n" * 600_000}).encode(), "application/json"),
    ],
    ids=["form", "json"],
)
def test_chunked_body_over_limit_gets_413(limited_relay, simulator, body, content_type):
    answer = exchange(limited_relay, chunked_post(body, content_type))

    assert answer.status == 413
    assert answer.json()["reason"] == "too_large"
    assert "[limits].max_body_bytes" in answer.json()["message"]
    assert "chunked.big" not in json.dumps(simulator.received())


@pytest.mark.parametrize(
    "chunks",
    [b"ZZ\r\nemail=a\r\n0\r\n\r\n", b"7\r\nemail=aXX0\r\n\r\n", b"7;bad ext\x01\r\nemail=a\r\n0\r\n\r\n"],
    ids=["bad-size", "missing-terminator", "bad-extension"],
)
def test_malformed_chunked_body_gets_400(limited_relay, chunks):
    head = (
        "POST /v1/leads/form HTTP/1.1\r\nHost: relay\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()

    answer = exchange(limited_relay, head + chunks)

    assert answer.status == 400
    assert answer.json()["reason"] == "unparseable_body"
    assert "chunked" in answer.json()["message"]
    assert answer.headers["connection"] == "close"
