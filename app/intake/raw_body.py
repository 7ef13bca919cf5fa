"""Read a request's raw body once, with its size bounded by [limits].max_body_bytes."""

from __future__ import annotations

from flask import Request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import ClientDisconnected

from app.config.model import Limits
from app.errors import BadBody, TooLarge


def read_raw(request: Request, limits: Limits) -> bytes:
    """Return the request's body, cached for later reads, raising TooLarge when it is over max_body_bytes.

    The app sets MAX_CONTENT_LENGTH one byte above max_body_bytes. Werkzeug cuts a body without a
    Content-Length (chunked) at MAX_CONTENT_LENGTH without an error, so a body longer than
    max_body_bytes shows as one more byte than the limit allows.
    """
    try:
        raw = request.get_data(cache=True)
    except ParseException as error:
        # Gunicorn raises these from wsgi.input on bad chunked framing: a chunk size, extension or terminator.
        message = f"the chunked body is malformed ({error}); send valid chunked encoding or a Content-Length"
        raise BadBody(message, close_connection=True) from None
    except (NoMoreData, ClientDisconnected):
        message = "the body ended before its announced length; send the whole body"
        raise BadBody(message, close_connection=True) from None
    if len(raw) > limits.max_body_bytes:
        # Gunicorn discards the unread rest of a chunked body before the next request. Closing here
        # instead would reset the connection while the client still sends, and could lose this response.
        raise TooLarge(body_too_large_message(limits.max_body_bytes))
    return raw


def body_too_large_message(max_body_bytes: int) -> str:
    """Return the message for a body over the size limit."""
    return f"the body is over the size limit of {max_body_bytes} bytes ([limits].max_body_bytes); send a smaller body"
