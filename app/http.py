"""Request ids and the one JSON error envelope for every failure."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from app import logs
from app.answers import error_response
from app.errors import BadBody, MethodNotAllowed, NotFound, RelayError, TooLarge

log = logging.getLogger("relay.http")

# A request id from a trusted proxy is kept only if it is short and plain.
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
    413: "the body is over the size limit",
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
    offered = request.headers.get("X-Request-Id", "")
    logs.request_id.set(offered if _REQUEST_ID.match(offered) else logs.new_id())
    logs.lead_id.set(None)


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = logs.request_id.get() or ""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _relay_error(error: RelayError) -> Response:
    log.info("request.refused", extra={"reason": error.reason, "http_status": error.http_status})
    return error_response(error)


def _http_error(error: HTTPException) -> Response:
    code = error.code or 500
    relay_error_class = _HTTP_ERRORS.get(code)
    if relay_error_class is None:
        relay_error = RelayError(error.description or "the request failed")
        relay_error.http_status, relay_error.reason = code, f"http_{code}"
    else:
        relay_error = relay_error_class(_HTTP_MESSAGES[code])
    return _relay_error(relay_error)


def _unexpected_error(error: Exception) -> Response:
    # The sender gets the envelope; the traceback goes only to the log.
    log.exception("request.failed", extra={"error_type": type(error).__name__})
    return error_response(RelayError("the relay failed to handle this request; retry later"))
