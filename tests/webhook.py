"""A webhook receiver on 127.0.0.1 for the alert tests: it records every POST and responds with a set status."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer

# The path looks like a Slack webhook's, whose last part is the credential.
PATH = "/services/T0000/B0000/webhook-secret-path-0001"

# Maximum seconds a held request waits for the test to let it finish.
HOLD_SECONDS = 30


class WebhookServer(LoopbackServer):
    """Records each request's path, content type and JSON body, and responds with `status` unless held."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict[str, Any]] = []
        self.arrived = 0
        self.released = threading.Event()
        self.released.set()
        self._lock = threading.Lock()
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def hold(self) -> None:
        """Keep every request open, without a response, until release()."""
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def texts(self) -> list[str]:
        with self._lock:
            return [post["body"]["text"] for post in self.posts]

    def wait_for(self, count: int, seconds: float = 10) -> list[str]:
        """Wait until `count` alerts arrived or `seconds` pass; return the texts received."""
        deadline = time.monotonic() + seconds
        while len(self.texts()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.texts()

    def wait_for_arrival(self, count: int, seconds: float = 10) -> bool:
        """Wait until `count` requests started, finished or not; return whether they did."""
        deadline = time.monotonic() + seconds
        while self.arrived < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.arrived >= count

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        super().__exit__(*exc_info)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with server._lock:
                    server.arrived += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.released.wait(HOLD_SECONDS)
                record = {"path": self.path, "content_type": self.headers.get("Content-Type"),
                          "body": json.loads(body)}
                if 200 <= server.status < 300:
                    with server._lock:
                        server.posts.append(record)
                self.send_response(server.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        return Handler
