"""The PhoneBurner adapter's test of a kept-alive connection, against a put_contact server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from app.leads import Lead
from app.phoneburner.client import PhoneBurnerClient, make_session
from app.phoneburner.replies import ReplyClass
from app.phoneburner.transport import has_input
from tests.loopback import LoopbackServer

SUCCESS = b"SUCCESS | https://www.phoneburner.com/ms/lead_redirect?upc=ATFHD3PP"
LEAD = Lead(firstname="Jeff", email="jeff@example.com")


class PutContactServer(LoopbackServer):
    """A put_contact server that replies SUCCESS over HTTP/1.1 and records each request's client port.

    With `close_after_reply`, it closes each connection after its reply without announcing it,
    as a server does when a kept-alive connection reaches its idle timeout.
    """

    def __init__(self, *, close_after_reply: bool) -> None:
        self.close_after_reply = close_after_reply
        self.ports: list[int] = []
        self.closed = threading.Semaphore(0)
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/put_contact"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.ports.append(self.client_address[1])
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(SUCCESS)))
                self.end_headers()
                self.wfile.write(SUCCESS)
                self.close_connection = server.close_after_reply

            def finish(self) -> None:
                super().finish()
                if self.close_connection:
                    self.connection.close()
                    server.closed.release()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        return Handler


def send(client: PhoneBurnerClient) -> ReplyClass:
    return client.put_contact(lead=LEAD, user_id="1", cm_id="2").reply.reply_class


def make_client(url: str) -> PhoneBurnerClient:
    session = make_session(2, user_agent="transport-test")
    return PhoneBurnerClient(url=url, vendor_key="test-key", session=session, connect_timeout=2, read_timeout=2)


def test_has_input_data_and_hang_up():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert has_input(ours) is False

        theirs.sendall(b"x")
        assert has_input(ours) is True

        ours.recv(1)
        theirs.close()
        assert has_input(ours) is True


def test_kept_alive_connection_reused():
    with PutContactServer(close_after_reply=False) as server:
        client = make_client(server.url)

        assert [send(client) for _ in range(3)] == [ReplyClass.DELIVERED] * 3

    assert len(set(server.ports)) == 1


def test_closed_connection_replaced_before_call():
    # Sent on the closed connection, the second call would fail after writing and count as ambiguous.
    with PutContactServer(close_after_reply=True) as server:
        client = make_client(server.url)

        assert send(client) is ReplyClass.DELIVERED
        assert server.closed.acquire(timeout=5)
        assert send(client) is ReplyClass.DELIVERED

    assert len(set(server.ports)) == 2


def test_system_poll_under_gevent():
    # The web workers patch select; the check must still use the system's poll, which never yields.
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import select, gevent.select\n"
        "from app.phoneburner import transport\n"
        "assert select.poll is gevent.select.poll\n"
        "assert transport._system_poll is not gevent.select.poll\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_pools_use_checked_connections(scheme):
    session = make_session(2, user_agent="transport-test")
    pool = session.get_adapter(f"{scheme}://127.0.0.1/").poolmanager.connection_from_url(f"{scheme}://127.0.0.1/")

    assert pool.ConnectionCls.is_connected.fget.__qualname__ == "_PollCheck.is_connected"
