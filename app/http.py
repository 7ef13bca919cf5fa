"""Request ids and the one JSON error envelope for every failure."""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from app import logs, metrics
from app.answers import error_response
from app.errors import BadBody, MethodNotAllowed, NotFound, RelayError, TooLarge
from app.intake.clients import from_trusted_proxy
from app.intake.raw_body import body_too_large_message
from app.relay import current_relay
from app.security_headers import add_security_headers, is_https

log = logging.getLogger("relay.http")

# An offered request id is kept only if it is short and plain.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Werkzeug's errors, translated into the relay's typed errors.
_HTTP_ERRORS: dict[int, type[RelayError]] = {
    400: BadBody,
    404: NotFound,
    405: MethodNotAllowed,
    413: TooLarge,
}

_HTTP_MESSAGES = {
    400: "the request could not be read",
    404: "no such route; leads go to POST /v1/leads/<source>",
    405: "this method is not allowed here; leads go to POST /v1/leads/<source>",
}


def install(app: Flask) -> None:
    """Register request-id hooks and error handlers on the app."""
    # Werkzeug would redirect a doubled slash (308, HTML), so senders get the JSON 404 instead.
    app.url_map.merge_slashes = False
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(RelayError, _relay_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    offered = _offered_request_id()
    logs.request_id.set(offered if _REQUEST_ID.match(offered) else logs.new_id())
    logs.lead_id.set(None)


def _offered_request_id() -> str:
    """Return the request id header's value, or "" when there is none or its sender is not trusted."""
    settings = current_relay().settings
    # With no proxies configured, anyone may name the id: it only groups log lines.
    if settings.trusted_proxies and not from_trusted_proxy(request, settings.trusted_proxies):
        return ""
    return request.headers.get(settings.request_id_header, "")


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = logs.request_id.get() or ""
    response.headers.setdefault("Cache-Control", "no-store")
    add_security_headers(response.headers, https=is_https(current_app.extensions["relay"].settings.public_url))
    started = g.get("request_started")
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.request_finished(route, response.status_code, time.perf_counter() - started)
    return response


def _relay_error(error: RelayError) -> Response:
    log.info("request.refused", extra={"reason": error.reason, "http_status": error.http_status})
    metrics.error_answered(_source_label(), error.http_status, error.reason)
    response = error_response(error)
    if error.close_connection:
        # With this header, ClosingApp makes gunicorn close the connection after the response.
        response.headers["Connection"] = "close"
    return response


def _source_label() -> str:
    """Return the configured source the request was for, or "": a name from the URL alone is not a label."""
    name = (request.view_args or {}).get("source_name")
    return name if name in current_relay().settings.sources else ""


def _http_error(error: HTTPException) -> Response:
    code = error.code or 500
    relay_error_class = _HTTP_ERRORS.get(code)
    if relay_error_class is None:
        relay_error = RelayError(error.description or "the request failed")
        relay_error.http_status, relay_error.reason = code, f"http_{code}"
    else:
        relay_error = relay_error_class(_http_message(code))
    return _relay_error(relay_error)


def _http_message(code: int) -> str:
    if code == 413:
        return body_too_large_message(current_relay().settings.limits.max_body_bytes)
    return _HTTP_MESSAGES[code]


def _unexpected_error(error: Exception) -> Response:
    # The sender gets the envelope; the traceback goes only to the log.
    log.exception("request.failed", extra={"error_type": type(error).__name__})
    failure = RelayError("the relay failed to handle this request; retry later")
    metrics.error_answered(_source_label(), failure.http_status, failure.reason)
    return error_response(failure)
