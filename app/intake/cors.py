"""CORS for browser-form sources: only their allowed origins may read responses."""

from __future__ import annotations

from flask import Response, request

from app.config.model import Source
from app.errors import Unauthorized

# Browsers cache a preflight this many seconds.
PREFLIGHT_MAX_AGE = 600


def allow(source: Source, response: Response) -> Response:
    """Add CORS headers to a response when the request's Origin is allowed."""
    origin = request.headers.get("Origin", "").rstrip("/")
    if origin and origin in source.allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    return response


def preflight(source: Source) -> Response:
    """Respond to an OPTIONS preflight, or raise Unauthorized for a foreign origin."""
    origin = request.headers.get("Origin", "").rstrip("/")
    if not origin or origin not in source.allowed_origins:
        raise Unauthorized("this origin may not post to this source; add it to allowed_origins")

    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Idempotency-Key, X-Request-Id"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return allow(source, response)
