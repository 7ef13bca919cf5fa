"""Browser forms: which origins may post, and CORS so that only those origins may read the responses."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Request, Response, request

from app.config.model import Source
from app.errors import Unauthorized
from app.relay import current_relay

# Browsers cache a preflight this many seconds.
PREFLIGHT_MAX_AGE = 600

# Response headers a page's script may read: when to retry, and the id to quote to the relay's operator.
EXPOSED_HEADERS = "Retry-After, X-Request-Id"


def check_origin(source: Source, request: Request) -> None:
    """Raise Unauthorized unless a browser-form post comes from one of the source's allowed origins.

    The Origin header decides. Without one, the origin of the Referer does,
    and a post with neither is rejected. Browsers send Origin with every
    cross-site POST, so this stops clients that leave both out. Any client
    can still write these headers, which is why browser forms also have a
    stricter per-IP limit and may have a honeypot.
    """
    origin = request_origin(request)
    if origin is None:
        raise Unauthorized(
            "a browser form must send an Origin or Referer header naming one of the source's allowed_origins"
        )
    # Browsers send "null" from sandboxed frames and file:// pages, and it matches no allowed origin.
    if origin not in source.allowed_origins:
        raise Unauthorized("this origin may not post to this source; add it to allowed_origins")


def request_origin(request: Request) -> str | None:
    """Return the origin the request claims: its Origin header, else its Referer's origin."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return normalize_origin(origin)
    referer = request.headers.get("Referer")
    return origin_of(referer) if referer else None


def normalize_origin(origin: str) -> str:
    """Return an origin in the form allowed_origins are kept: lowercase, without a trailing slash."""
    return origin.strip().rstrip("/").lower()


def origin_of(url: str) -> str | None:
    """Return the origin (scheme, host and port) of an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def allow(source: Source, response: Response) -> Response:
    """Add CORS headers to a response when the request's Origin is allowed."""
    origin = normalize_origin(request.headers.get("Origin", ""))
    if origin and origin in source.allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"].strip().rstrip("/")
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.vary.add("Origin")
    return response


def preflight(source: Source) -> Response:
    """Respond to an OPTIONS preflight, or raise Unauthorized for a foreign origin."""
    origin = normalize_origin(request.headers.get("Origin", ""))
    if not origin or origin not in source.allowed_origins:
        raise Unauthorized("this origin may not post to this source; add it to allowed_origins")

    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Idempotency-Key, X-Request-Id"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    # The response depends on the browser's request headers, so caches must keep one per value.
    response.vary.update(("Access-Control-Request-Method", "Access-Control-Request-Headers"))
    return allow(source, response)


def add_cors_headers(response: Response) -> Response:
    """Let an allowed origin read every response of its source, error responses included."""
    handler = current_relay().handlers.get((request.view_args or {}).get("source_name", ""))
    return allow(handler.source, response) if handler is not None else response
