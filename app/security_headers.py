"""Security headers on every response, from the Flask app and from gunicorn's own error responses alike."""

from __future__ import annotations

from collections.abc import MutableMapping

# The API serves JSON only, so nothing in a response may run, load, be framed or leak a referrer.
API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

# One year. includeSubDomains is left out because the operator's other subdomains may not serve HTTPS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def security_headers(*, https: bool) -> dict[str, str]:
    """Return the headers every response carries, with HSTS only when the relay is served over HTTPS."""
    headers = dict(API_HEADERS)
    if https:
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return headers


def add_security_headers(headers: MutableMapping[str, str], *, https: bool) -> None:
    """Add each security header the response does not set itself, so a page may bring its own CSP."""
    for name, value in security_headers(https=https).items():
        headers.setdefault(name, value)


def is_https(public_url: str | None) -> bool:
    """Return whether the relay's public URL, as senders call it, uses HTTPS."""
    return bool(public_url) and public_url.lower().startswith("https://")
