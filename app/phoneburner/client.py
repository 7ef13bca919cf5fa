"""Send a lead to PhoneBurner's put_contact route and classify what happened.

This module is the one place where transport errors from requests become
`Reply` values. Those errors embed the request URL, which contains the vendor
key, so they are never logged, stored or re-raised.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from app.leads import Lead
from app.phoneburner.query import REDACTED, PutContactRequest, build_put_contact
from app.phoneburner.replies import Reply, ReplyClass, parse_reply
from app.phoneburner.transport import PhoneBurnerAdapter

logger = logging.getLogger("relay.phoneburner")

# urllib3 logs each request line at DEBUG level, query string included, and
# that query contains the vendor key and the lead.
_URLLIB3_LOGGER = "urllib3.connectionpool"
_QUERY_STRING = re.compile(r"\?[^\s\"']+")

# Causes that prove a connection failed before the request was written.
_BEFORE_SENDING = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.ProxyError,
    urllib3.exceptions.ClosedPoolError,
    ConnectionRefusedError,
)


@dataclass(frozen=True)
class Delivery:
    """One put_contact attempt: the classified reply and the request sent."""

    reply: Reply
    request: PutContactRequest


class PhoneBurnerClient:
    """A client for put_contact that returns every outcome as a `Reply`.

    The session is injected so that one connection pool serves all calls
    (see `make_session`) and tests can mock the transport.
    """

    def __init__(
        self,
        *,
        url: str,
        vendor_key: str,
        session: requests.Session,
        connect_timeout: float,
        read_timeout: float,
        max_url_bytes: int = 8000,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"PhoneBurner url must be an http(s) URL, got {url!r}")
        if not vendor_key:
            raise ValueError("PhoneBurner vendor_key is empty")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError(
                f"timeouts must be positive seconds, got connect_timeout="
                f"{connect_timeout} and read_timeout={read_timeout}"
            )

        self._url = url
        self._vendor_key = vendor_key
        self._session = session
        self._timeout = (connect_timeout, read_timeout)
        self._max_url_bytes = max_url_bytes
        _redact_urllib3_logs()

    def __repr__(self) -> str:
        return f"PhoneBurnerClient(url={self._url!r}, timeout={self._timeout!r})"

    def put_contact(
        self, *, lead: Lead, user_id: str, cm_id: str, timeout: tuple[float, float] | None = None
    ) -> Delivery:
        """Send one GET to put_contact and classify the outcome.

        Errors from requests and urllib3 come back as a `Reply` instead of
        being raised. Raises UrlTooLong if the lead's standard fields alone
        exceed the URL limit, and then nothing is sent. A retry is the
        caller's decision, because the route is not idempotent. `timeout`
        (connect, read) replaces the client's own for this call, e.g. to keep
        an attempt inside a request's time budget.
        """
        request = build_put_contact(
            base_url=self._url,
            vendor_key=self._vendor_key,
            user_id=user_id,
            cm_id=cm_id,
            lead=lead,
            max_url_bytes=self._max_url_bytes,
        )

        started = time.perf_counter()
        reply, error_type = self._send(request.url, timeout or self._timeout)
        elapsed_ms = (time.perf_counter() - started) * 1000.0

        reply = dataclasses.replace(
            reply, elapsed_ms=elapsed_ms, excerpt=self._scrub(reply.excerpt)
        )
        self._log(reply, request, error_type)
        return Delivery(reply=reply, request=request)

    def _send(self, url: str, timeout: tuple[float, float]) -> tuple[Reply, str | None]:
        """Return the reply and, for a transport error, the exception's type name."""
        # read_timeout bounds each socket read; the deadline bounds the whole body,
        # so a server dripping one byte at a time cannot hold the sender for minutes.
        deadline = time.monotonic() + sum(timeout)
        try:
            response = self._get(url, timeout)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
            # The exception itself is dropped here: its message contains the URL.
            return classify_transport_error(error), type(error).__name__

        # PhoneBurner has the request by now, so a failure reading the body is ambiguous.
        try:
            with response:
                body = _read_body(response, deadline)
        except (_DeadlineExceeded, urllib3.exceptions.ReadTimeoutError, TimeoutError) as error:
            return _transport_reply(ReplyClass.AMBIGUOUS, "read_timeout"), type(error).__name__
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            return _transport_reply(ReplyClass.AMBIGUOUS, "incomplete_response"), type(error).__name__

        reply = parse_reply(status=response.status_code, body=body, headers=response.headers)
        return reply, None

    def _get(self, url: str, timeout: tuple[float, float]) -> requests.Response:
        """Send a GET for `url` through the session's adapter, streaming the body; redirects are not followed.

        `Session.get` would parse and requote the URL, merge cookies, settings and
        hooks, and extract cookies: half the CPU time of a call, and none of it needed
        for a URL that build_put_contact encoded. The session's headers, adapters,
        `verify` and `cert` apply. Its cookies, proxies and hooks do not: make_session
        sets none, and put_contact needs none.
        """
        prepared = requests.PreparedRequest()
        prepared.method = "GET"
        prepared.url = url
        prepared.headers = CaseInsensitiveDict(self._session.headers)
        prepared.body = None
        prepared.hooks = {"response": []}
        adapter = self._session.get_adapter(url)
        return adapter.send(
            prepared, stream=True, timeout=timeout, verify=self._session.verify, cert=self._session.cert, proxies={}
        )

    def _scrub(self, excerpt: str | None) -> str | None:
        """Remove the vendor key from an excerpt, in case the body echoed the URL."""
        if not excerpt:
            return excerpt
        for form in {self._vendor_key, quote(self._vendor_key, safe="")}:
            excerpt = excerpt.replace(form, REDACTED)
        return excerpt

    def _log(self, reply: Reply, request: PutContactRequest, error_type: str | None) -> None:
        logger.debug(
            "put_contact %s reason=%s status=%s elapsed_ms=%.1f",
            reply.reply_class.value,
            reply.reason,
            reply.http_status,
            reply.elapsed_ms,
            extra={
                "event": "phoneburner.put_contact",
                "reply_class": reply.reply_class.value,
                "reason": reply.reason,
                "http_status": reply.http_status,
                "elapsed_ms": reply.elapsed_ms,
                "error_type": error_type,
                "truncated_extras": len(request.truncated),
                "dropped_extras": len(request.dropped),
            },
        )


# A PhoneBurner reply is one short line; more than this is an error page at best.
MAX_REPLY_BYTES = 64 * 1024


class _DeadlineExceeded(Exception):
    """The reply's body did not arrive within the connect and read timeouts together."""


def _read_body(response: requests.Response, deadline: float) -> bytes:
    # read1 returns whatever has arrived, so the deadline is checked between socket reads.
    # NOTE: headers that drip in slowly are bounded only by read_timeout per socket read.
    chunks: list[bytes] = []
    size = 0
    while size < MAX_REPLY_BYTES:
        if time.monotonic() > deadline:
            raise _DeadlineExceeded
        chunk = response.raw.read1(4096, decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:MAX_REPLY_BYTES]


def classify_transport_error(error: Exception) -> Reply:
    """Map an exception raised by `Session.get` to an UNREACHABLE or AMBIGUOUS reply.

    UNREACHABLE means the request was certainly not delivered. AMBIGUOUS means
    PhoneBurner may have received it, so a later DUPLICATE EMAIL for the same
    lead counts as delivered. When the evidence is unclear, the error counts as
    AMBIGUOUS, which only makes the caller more careful.
    """
    if isinstance(error, requests.ConnectTimeout):
        return _transport_reply(ReplyClass.UNREACHABLE, "connect_timeout")
    if isinstance(error, requests.ReadTimeout):
        return _transport_reply(ReplyClass.AMBIGUOUS, "read_timeout")
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return _transport_reply(ReplyClass.AMBIGUOUS, "incomplete_response")
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return _transport_reply(ReplyClass.AMBIGUOUS, "undecodable_response")
    if isinstance(error, requests.exceptions.SSLError):
        # NOTE: a TLS error after the request was written (rare) also lands
        # here, because requests wraps it the same way as a failed handshake.
        return _transport_reply(ReplyClass.UNREACHABLE, "tls_failed")
    if isinstance(error, requests.ConnectionError):
        return _classify_connection_error(error)
    if isinstance(error, requests.Timeout):
        return _transport_reply(ReplyClass.AMBIGUOUS, "timeout")
    return _transport_reply(ReplyClass.UNREACHABLE, "request_failed")


def _classify_connection_error(error: requests.ConnectionError) -> Reply:
    causes = list(_causes(error))
    # With stream=False, requests reads the body inside get() and reports a
    # read timeout there as a ConnectionError, not as a ReadTimeout.
    if any(isinstance(cause, urllib3.exceptions.ReadTimeoutError) for cause in causes):
        return _transport_reply(ReplyClass.AMBIGUOUS, "read_timeout")
    if isinstance(error, requests.exceptions.ProxyError) or any(
        isinstance(cause, _BEFORE_SENDING) for cause in causes
    ):
        return _transport_reply(ReplyClass.UNREACHABLE, "connection_failed")
    return _transport_reply(ReplyClass.AMBIGUOUS, "connection_lost")


def _causes(error: BaseException, depth: int = 8) -> Iterator[BaseException]:
    """Yield the exceptions wrapped inside `error`, outermost first."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending and len(seen) < depth:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # requests and urllib3 wrap causes in args, `reason` and the chain.
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def _transport_reply(reply_class: ReplyClass, reason: str) -> Reply:
    return Reply(reply_class=reply_class, reason=reason)


def make_session(pool_size: int, *, user_agent: str) -> requests.Session:
    """Create a session for PhoneBurner with a pool of `pool_size` connections.

    The pool should be as large as the number of concurrent calls, or
    requests opens and discards extra connections. Retries are off because
    put_contact is not idempotent. `trust_env` is off so that proxy variables
    and .netrc in the environment cannot send the vendor key elsewhere; this
    also ignores REQUESTS_CA_BUNDLE.
    """
    if pool_size < 1:
        raise ValueError(f"pool_size must be at least 1, got {pool_size}")

    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = user_agent
    adapter = PhoneBurnerAdapter(
        pool_connections=1, pool_maxsize=pool_size, pool_block=False, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _RedactQueryFilter(logging.Filter):
    """Replace every query string in a log message with `?REDACTED`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY_STRING.sub(f"?{REDACTED}", message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


def _redact_urllib3_logs() -> None:
    """Attach the query-redacting filter to urllib3's request logger once."""
    urllib3_logger = logging.getLogger(_URLLIB3_LOGGER)
    if not any(isinstance(item, _RedactQueryFilter) for item in urllib3_logger.filters):
        urllib3_logger.addFilter(_RedactQueryFilter())
