"""A local PhoneBurner LeadStream server for tests, the demo and the benchmark.

It serves `GET .../api/vendor/put_contact` the way the vendor documents it:
every field in the query string, plain-text replies labelled `text/html`,
HTTP 200 even for the errors it documents. It checks the vendor key, user_id and cm_id, rejects
malformed and duplicate e-mail addresses, records every request it received
and can inject faults (latency, hangs, resets, HTTP errors, odd replies).

The app is plain WSGI so that it stays fast under load. `run()` serves it with
gevent, and `make_wsgi_app()` returns it for in-process tests. The command
line lives in `simulator_cli` and is reached through `main()` here, so that
`python -m app.phoneburner.simulator --help` works.

Control endpoints, all JSON:

- `GET /_sim/health`: `{"status": "ok"}`.
- `GET /_sim/received`: the recorded put_contact requests, oldest first.
- `POST /_sim/reset`: clear the records, the e-mails seen and all faults.
- `GET /_sim/faults`: the pending fault queue and the sticky fault.
- `POST /_sim/faults` with `{"queue": [...], "sticky": "..." or null}`: replace
  the queue and set or clear the sticky fault. A key left out stays unchanged.
"""

from __future__ import annotations

import hmac
import json
import random
import re
import socket
import string
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import unquote_plus

import gevent
from gevent.pywsgi import WSGIHandler, WSGIServer

from app.phoneburner.simulator_faults import Fault, parse_fault, status_line

PUT_CONTACT_PATH = "/api/vendor/put_contact"
CONTROL_PREFIX = "/_sim/"
LEAD_URL_PREFIX = "https://www.phoneburner.com/ms/lead_redirect?upc="

# PhoneBurner labels its plain-text replies as HTML, so the simulator does too.
TEXT_CONTENT_TYPE = "text/html; charset=UTF-8"
JSON_CONTENT_TYPE = "application/json"

# A syntax check only: one @, no whitespace, and a dot in the domain.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

UPC_ALPHABET = string.ascii_uppercase + string.digits
UPC_LENGTH = 8


@dataclass
class SimUser:
    """A LeadStream management account and the cm_ids of its LeadStreams."""

    cm_ids: set[str]
    cancelled: bool = False


@dataclass
class SimulatorSettings:
    """Accounts, vendor key and timing of one simulator instance.

    `hang_seconds` is how long the `hang` fault keeps a request open before
    it drops the connection. `max_received` caps the number of requests kept
    for `/_sim/received` (oldest dropped first) so that a long benchmark does
    not grow memory without bound. None keeps them all.
    """

    vendor_key: str
    users: Mapping[str, SimUser]
    latency_ms: int = 0
    hang_seconds: float = 600.0
    max_received: int | None = 10_000


@dataclass(frozen=True)
class Received:
    """One put_contact request that the simulator received, with its reply.

    `params` are decoded, in the order they came. `reply_status` is 0 and
    `reply_body` empty when a `hang` or `reset` fault sent no reply. `fault`
    is the spec of the fault applied to the request, if any. `at` is the
    arrival time from `time.time()`.
    """

    path: str
    raw_query: str
    params: list[tuple[str, str]]
    reply_status: int
    reply_body: str
    at: float
    fault: str | None = None

    def to_json(self) -> dict[str, object]:
        """Return the record as a JSON-ready dict, params as [[name, value], ...]."""
        return {
            "path": self.path,
            "raw_query": self.raw_query,
            "params": [[name, value] for name, value in self.params],
            "reply_status": self.reply_status,
            "reply_body": self.reply_body,
            "at": self.at,
            "fault": self.fault,
        }


class SimulatedConnectionReset(Exception):
    """Raised by the app to make the server drop the connection without a reply.

    The simulator's own gevent server turns it into a TCP reset. Under any
    other WSGI server, or werkzeug's test client, the exception propagates.
    """


@dataclass
class _Reply:
    status: int
    body: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = TEXT_CONTENT_TYPE


def parse_php_query(raw_query: str) -> list[tuple[str, str]]:
    """Split a query string into decoded (name, value) pairs, in order.

    Decoding follows PHP's rules for query strings: `+` is a space, %XX
    escapes are UTF-8, and a name without `=` gets an empty value. Brackets
    in names stay as written, so `question%5B0%5D` and `question[0]` both
    become `question[0]`. Invalid UTF-8 decodes to U+FFFD.
    """
    pairs = []
    for piece in raw_query.split("&"):
        if not piece:
            continue

        name, _, value = piece.partition("=")
        pairs.append(
            (
                unquote_plus(name, encoding="utf-8", errors="replace"),
                unquote_plus(value, encoding="utf-8", errors="replace"),
            )
        )
    return pairs


def _new_lead_url() -> str:
    # The code only has to look like the vendor's. It guards nothing, so the
    # fast `random` module is enough.
    return LEAD_URL_PREFIX + "".join(random.choices(UPC_ALPHABET, k=UPC_LENGTH))  # noqa: S311


def _start(start_response, reply: _Reply) -> list[bytes]:
    body = reply.body.encode("utf-8")
    headers = [
        ("Content-Type", reply.content_type),
        ("Content-Length", str(len(body))),
        *reply.headers,
    ]
    start_response(status_line(reply.status), headers)
    return [body]


def _json_reply(status: int, document: object) -> _Reply:
    return _Reply(status, json.dumps(document), content_type=JSON_CONTENT_TYPE)


class SimulatorApp:
    """The simulator as a WSGI callable, with its records and fault controls.

    All state sits behind one lock, so the app is safe under threads and
    greenlets alike. The lock is never held while sleeping.
    """

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._received: deque[Received] = deque(maxlen=settings.max_received)
        self._emails_by_user: dict[str, set[str]] = {}
        self._fault_queue: deque[Fault] = deque()
        self._sticky_fault: Fault | None = None
        self._control_routes = {
            ("GET", "health"): self._control_health,
            ("GET", "received"): self._control_received,
            ("POST", "reset"): self._control_reset,
            ("GET", "faults"): self._control_get_faults,
            ("POST", "faults"): self._control_set_faults,
        }

    # Python API for in-process tests.

    @property
    def received(self) -> list[Received]:
        """A snapshot of the recorded put_contact requests, oldest first."""
        with self._lock:
            return list(self._received)

    @property
    def pending_faults(self) -> list[str]:
        """The specs of the queued faults, next first."""
        with self._lock:
            return [fault.spec for fault in self._fault_queue]

    @property
    def sticky_fault(self) -> str | None:
        """The spec of the fault applied to every request, or None."""
        with self._lock:
            return self._sticky_fault.spec if self._sticky_fault else None

    def reset(self) -> None:
        """Forget the recorded requests, the e-mails seen and all faults."""
        with self._lock:
            self._received.clear()
            self._emails_by_user.clear()
            self._fault_queue.clear()
            self._sticky_fault = None

    def push_fault(self, spec: str) -> None:
        """Queue a fault for one later request. Raise ValueError on a bad spec."""
        fault = parse_fault(spec)
        with self._lock:
            self._fault_queue.append(fault)

    def set_sticky(self, spec: str | None) -> None:
        """Apply a fault to every request while the queue is empty, or clear it with None.

        Raise ValueError on a bad spec.
        """
        fault = parse_fault(spec) if spec is not None else None
        with self._lock:
            self._sticky_fault = fault

    # WSGI entry point.

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.endswith(PUT_CONTACT_PATH):
            return self._serve_put_contact(environ, start_response)

        if path.startswith(CONTROL_PREFIX):
            return _start(start_response, self._serve_control(environ, path))

        return _start(start_response, _Reply(404, "Not Found"))

    def _serve_put_contact(self, environ, start_response) -> Iterable[bytes]:
        """Handle one put_contact request and send its reply, or apply the next fault instead."""
        if environ.get("REQUEST_METHOD") != "GET":
            return _start(start_response, _Reply(405, "Method Not Allowed", [("Allow", "GET")]))

        arrived_at = time.time()
        raw_query = environ.get("QUERY_STRING", "")
        # PEP 3333 has WSGI servers pass the query bytes decoded as Latin-1,
        # so raw UTF-8 from a non-conforming client needs decoding again.
        if not raw_query.isascii():
            raw_query = raw_query.encode("latin-1").decode("utf-8", errors="replace")
        params = parse_php_query(raw_query)
        fault = self._next_fault()

        def record(status: int, body: str) -> None:
            entry = Received(
                environ.get("PATH_INFO", ""),
                raw_query,
                params,
                status,
                body,
                arrived_at,
                fault.spec if fault else None,
            )
            with self._lock:
                self._received.append(entry)

        if self.settings.latency_ms:
            gevent.sleep(self.settings.latency_ms / 1000)

        if fault is None or fault.kind == "delay":
            if fault is not None:
                gevent.sleep(fault.delay_ms / 1000)
            reply = self._handle_lead(params)
            record(reply.status, reply.body)
            return _start(start_response, reply)

        if fault.kind in ("hang", "reset"):
            return self._drop_connection(fault, params, record)

        reply = _Reply(fault.status, fault.body, fault.headers())
        record(reply.status, reply.body)
        return _start(start_response, reply)

    def _drop_connection(
        self, fault: Fault, params: list[tuple[str, str]], record: Callable[[int, str], None]
    ) -> NoReturn:
        """Record the request, optionally handle the lead, then close without a reply."""
        # The `:processed` forms accept the lead before going silent. That is
        # the ambiguous case for a client: its retry gets DUPLICATE EMAIL.
        if fault.after_processing:
            self._handle_lead(params)
        record(0, "")

        if fault.kind == "hang":
            gevent.sleep(self.settings.hang_seconds)
        raise SimulatedConnectionReset(fault.spec)

    def _next_fault(self) -> Fault | None:
        """Take the next queued fault, else return the sticky one."""
        with self._lock:
            if self._fault_queue:
                return self._fault_queue.popleft()
            return self._sticky_fault

    def _handle_lead(self, params: list[tuple[str, str]]) -> _Reply:
        """Check the request and store the lead's e-mail on success.

        The checks run in this order: key, response_type, user_id, account,
        cm_id, e-mail. PhoneBurner documents no order, so the first error
        reported for a request with several faults may differ from the
        vendor's. A repeated parameter takes its last value, as in PHP.
        """
        values = dict(params)
        settings = self.settings

        given_key = values.get("key", "").encode("utf-8")
        if not hmac.compare_digest(given_key, settings.vendor_key.encode("utf-8")):
            # NOTE: this reply is a guess. PhoneBurner documents no reply for a
            # missing or wrong vendor key.
            return _Reply(401, "ERROR|INVALID KEY")

        if values.get("response_type", "") not in ("", "text"):
            return _Reply(200, "ERROR|BAD RESPONSE TYPE")

        user_id = values.get("user_id", "")
        if not user_id:
            return _Reply(200, "ERROR|IDNUMBER IS REQUIRED")

        user = settings.users.get(user_id)
        if user is None:
            # The vendor's example shows FAILURE here, its error list ERROR.
            return _Reply(200, "FAILURE|UNKNOWN USER")

        if user.cancelled:
            return _Reply(200, "ERROR|CANCELLED USER")

        cm_id = values.get("cm_id", "")
        if not cm_id:
            return _Reply(200, "ERROR|CM_ID IS REQUIRED")

        if cm_id not in user.cm_ids:
            return _Reply(200, "ERROR|CM_ID IS INVALID")

        email = values.get("email", "")
        if email and not EMAIL_PATTERN.fullmatch(email):
            return _Reply(200, "FAILURE|INVALID EMAIL")

        if email:
            # Check and insert under one lock, so that of two concurrent
            # requests with the same e-mail exactly one succeeds.
            folded = email.casefold()
            with self._lock:
                seen = self._emails_by_user.setdefault(user_id, set())
                if folded in seen:
                    return _Reply(200, "ERROR|DUPLICATE EMAIL")
                seen.add(folded)

        return _Reply(200, "SUCCESS | " + _new_lead_url())

    # Control endpoints.

    def _serve_control(self, environ, path: str) -> _Reply:
        route = path[len(CONTROL_PREFIX) :]
        method = environ.get("REQUEST_METHOD", "")
        handler = self._control_routes.get((method, route))
        if handler is not None:
            return handler(environ)

        allowed = [known_method for known_method, name in self._control_routes if name == route]
        if allowed:
            return _Reply(405, "Method Not Allowed", [("Allow", ", ".join(allowed))])
        return _json_reply(404, {"error": f"no control endpoint {path}"})

    def _control_health(self, environ) -> _Reply:
        return _json_reply(200, {"status": "ok"})

    def _control_received(self, environ) -> _Reply:
        return _json_reply(200, [entry.to_json() for entry in self.received])

    def _control_reset(self, environ) -> _Reply:
        self.reset()
        return _json_reply(200, {"status": "ok"})

    def _control_get_faults(self, environ) -> _Reply:
        return _json_reply(200, {"queue": self.pending_faults, "sticky": self.sticky_fault})

    def _control_set_faults(self, environ) -> _Reply:
        """Replace the fault queue and the sticky fault from a JSON body.

        Every spec is parsed before anything changes, so a bad request leaves
        the faults as they were.
        """
        try:
            document = _read_json_body(environ)
            queue, sticky = _parse_fault_document(document)
        except ValueError as error:
            return _json_reply(400, {"error": str(error)})

        with self._lock:
            if queue is not None:
                self._fault_queue = deque(queue)
            if "sticky" in document:
                self._sticky_fault = sticky
        return self._control_get_faults(environ)


def _read_json_body(environ) -> dict:
    """Read the request body as a JSON object. Raise ValueError if it is not one."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ValueError("invalid Content-Length") from None

    body = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        document = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"invalid JSON body: {error}") from None

    if not isinstance(document, dict):
        raise ValueError("the JSON body must be an object")
    return document


def _parse_fault_document(document: dict) -> tuple[list[Fault] | None, Fault | None]:
    """Parse the `queue` and `sticky` members of a POST /_sim/faults body."""
    queue = None
    if "queue" in document:
        specs = document["queue"]
        if not isinstance(specs, list) or not all(isinstance(spec, str) for spec in specs):
            raise ValueError('"queue" must be a list of fault strings')
        queue = [parse_fault(spec) for spec in specs]

    sticky = document.get("sticky")
    if sticky is not None and not isinstance(sticky, str):
        raise ValueError('"sticky" must be a fault string or null')
    return queue, parse_fault(sticky) if sticky is not None else None


def make_wsgi_app(settings: SimulatorSettings) -> SimulatorApp:
    """Create a simulator app with empty records and no faults."""
    return SimulatorApp(settings)


class _SimulatorHandler(WSGIHandler):
    """A gevent request handler that turns SimulatedConnectionReset into a TCP reset."""

    def run_application(self) -> None:
        try:
            super().run_application()
        except SimulatedConnectionReset:
            self._reset_connection()

    def _reset_connection(self) -> None:
        self.close_connection = True

        # A zero linger time makes close() send RST rather than FIN, so the
        # client sees "connection reset by peer" as from a crashed upstream.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        # The socket is really closed only once its file object is closed too.
        self.rfile.close()
        self.socket.close()


class _SimulatorServer(WSGIServer):
    """A gevent WSGI server that sends each reply without waiting on Nagle's algorithm."""

    def handle(self, sock, address) -> None:
        # pywsgi sends the headers and the body in two writes. With Nagle's algorithm
        # on, the body waits for the ACK of the headers, which a client delays by up
        # to 40 ms on Linux, so every reply would seem to take 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def run(settings: SimulatorSettings, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve the simulator with gevent until the process is stopped.

    Port 0 picks a free port. Prints the put_contact URL to stderr once the
    socket is bound. The access log is off to keep the cost per request low
    for the benchmark. Errors still go to stderr.
    """
    server = _SimulatorServer(
        (host, port),
        make_wsgi_app(settings),
        handler_class=_SimulatorHandler,
        log=None,
    )
    server.start()
    print(
        f"phoneburner simulator listening on http://{host}:{server.server_port}{PUT_CONTACT_PATH}",
        file=sys.stderr,
        flush=True,
    )
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Run the simulator's command line. See `simulator_cli.main`."""
    # Imported here because simulator_cli imports this module.
    from app.phoneburner.simulator_cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
