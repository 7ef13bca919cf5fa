"""Typed failures of a request, each with its HTTP status and a short reason code."""

from __future__ import annotations


class RelayError(Exception):
    """A request the relay cannot take, rendered as one JSON envelope."""

    http_status = 500
    reason = "internal_error"
    retry_after: int | None = None
    # True when the rest of the body may still arrive or cannot be framed, so the connection closes after the response.
    close_connection = False

    def __init__(
        self, message: str, *, errors: dict[str, list[str]] | None = None, close_connection: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        if close_connection is not None:
            self.close_connection = close_connection


class BadBody(RelayError):
    """The body could not be parsed as its content type declares."""

    http_status = 400
    reason = "unparseable_body"


class BadHeader(RelayError):
    """A request header the relay reads, such as Idempotency-Key, is malformed."""

    http_status = 400
    reason = "invalid_header"


class Unauthorized(RelayError):
    """The token, signature or origin is missing or wrong."""

    http_status = 401
    reason = "unauthorized"


class Forbidden(RelayError):
    """The request comes from a client address the source does not allow."""

    http_status = 403
    reason = "forbidden"


class NotFound(RelayError):
    """No such source or route."""

    http_status = 404
    reason = "not_found"


class MethodNotAllowed(RelayError):
    """The route exists but not for this HTTP method."""

    http_status = 405
    reason = "method_not_allowed"


class TooLarge(RelayError):
    """The body, one of its values, or its number of fields is over a limit."""

    http_status = 413
    reason = "too_large"


class UnsupportedContentType(RelayError):
    """The body is neither JSON, urlencoded nor multipart."""

    http_status = 415
    reason = "unsupported_content_type"


class InvalidLead(RelayError):
    """The lead's fields failed validation; `errors` names each field."""

    http_status = 422
    reason = "invalid_lead"


class IgnoredEvent(RelayError):
    """The tool posted an event that carries no lead (a cancellation, a test ping)."""

    http_status = 200
    reason = "ignored_event"


class StoreDown(RelayError):
    """The store could not keep the lead, so nothing was forwarded and the sender must retry."""

    http_status = 503
    reason = "store_unavailable"
    retry_after = 30


class BodyTimeout(RelayError):
    """The sender did not send the whole body within [limits].body_timeout seconds."""

    http_status = 408
    reason = "body_timeout"
    close_connection = True


class RateLimited(RelayError):
    """The client or the source sent more requests than its rate limit allows; retry after `retry_after`."""

    http_status = 429
    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
