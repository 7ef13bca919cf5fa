"""Gunicorn's gevent worker, which responds to the requests gunicorn rejects itself with the relay's JSON envelope.

Gunicorn rejects a malformed request line, a request line over
limit_request_line (414) and too many or too large headers (431) before the
app receives the request, and sends an HTML page. This worker lets gunicorn
classify and log the error as usual, captures the page it would write, and
sends the same status as the relay's JSON envelope with its security
headers instead.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from app import logs
from app.security_headers import is_https, security_headers

# Reason codes and messages for the statuses gunicorn sends on its own.
_ERRORS = {
    400: ("malformed_request", "the request is not valid HTTP/1.1; check the request line and headers"),
    403: ("forbidden", "the request was refused"),
    414: ("request_line_too_long", "the request line is too long; shorten the URL, and send tokens in a header"),
    417: ("expectation_failed", "the Expect header is not supported; leave it out"),
    431: ("headers_too_large", "the request has too many headers or one too large; send fewer and shorter headers"),
    501: ("unsupported_transfer_coding", "the transfer coding is not supported; send a Content-Length or chunked body"),
}
_INTERNAL = ("internal_error", "the relay failed to handle this request; retry later")


class _CapturedPage:
    """Stands in for the client socket while gunicorn writes its HTML error page, keeping the bytes."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data


class RelayGeventWorker(GeventWorker):
    """The gevent worker with JSON error responses."""

    def handle_error(self, req, client, addr, exc) -> None:
        page = _CapturedPage()
        super().handle_error(req, page, addr, exc)
        status_line = page.data.split(b"\r\n", 1)[0].decode("latin-1")
        try:
            util.write_nonblock(client, json_error_response(status_line, https=self._https()))
        except Exception:  # The client may be gone, and gunicorn ignores this failure the same way.
            self.log.debug("Failed to send error message.")

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = ClosingApp(self.wsgi)

    def _https(self) -> bool:
        app = getattr(getattr(self, "wsgi", None), "app", None)
        relay = getattr(app, "extensions", {}).get("relay") if app is not None else None
        return relay is not None and is_https(relay.settings.public_url)


class ClosingApp:
    """WSGI wrapper: a response with `Connection: close` makes gunicorn close the connection after it.

    Gunicorn 27 drops the application's Connection header and sends its own, keep-alive unless it
    decided to close, so the app's request to close would otherwise be lost.
    """

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            if any(name.lower() == "connection" and value.lower() == "close" for name, value in headers):
                # gunicorn's start_response is a method of its Response, which sends the Connection header.
                start_response.__self__.force_close()
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def json_error_response(status_line: str, *, https: bool) -> bytes:
    """Return a whole HTTP response with the status of gunicorn's `status_line` and the relay's JSON envelope."""
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 500
    phrase = parts[2] if len(parts) > 2 else "Internal Server Error"
    reason, message = _ERRORS.get(status, _INTERNAL if status >= 500 else _ERRORS[400])

    body = json.dumps({"status": "error", "reason": reason, "message": message}).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
        "Cache-Control": "no-store",
        "X-Request-Id": logs.new_id(),
        **security_headers(https=https),
    }
    head = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body
