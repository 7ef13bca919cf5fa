"""The security headers of every console response, including the 404 page of the console being off."""

from __future__ import annotations

from flask import Response

# No inline script or style and no framing. Forms post only to the console itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def add_console_headers(response: Response) -> Response:
    """Forbid framing, inline script and content sniffing, and keep pages with personal data out of caches."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Same-origin referrers only: lead ids in URLs stay inside the console.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
