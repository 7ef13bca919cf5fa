"""Authenticate a sender before its body is parsed."""

from __future__ import annotations

import hmac
import time

from flask import Request, current_app

from app.adapters import Adapter
from app.config.model import Source
from app.errors import Unauthorized
from app.idempotency import SignedRequest
from app.intake import cors
from app.intake.allowlist import require_allowed_client
from app.intake.hmac_signature import verify_hmac
from app.intake.raw_body import read_raw
from app.intake.standard_webhooks import verify_standard_webhook

SIGNED_MODES = ("signature", "hmac", "standard_webhooks")


def authenticate(source: Source, adapter: Adapter, request: Request) -> SignedRequest | None:
    """Raise Forbidden or Unauthorized unless the request proves it comes from the source's sender.

    A source with allowed_ips first rejects other client addresses, before the
    body is read. "token" sources need one of their tokens. "signature",
    "hmac" and "standard_webhooks" sources need a signature over the raw body.
    "none" sources are browser forms and accept only requests whose Origin,
    (or, without one, Referer) is allowed. Returns what a signature proves,
    which recognizes a replay of the request, or None for other modes.
    """
    require_allowed_client(source, request, current_app.extensions["relay"].settings.trusted_proxies)

    if source.auth == "none":
        _check_origin(source, request)
    elif source.auth in SIGNED_MODES:
        return _verify_signed(source, adapter, request)
    else:
        _check_token(source, request)
    return None


def _verify_signed(source: Source, adapter: Adapter, request: Request) -> SignedRequest:
    checks = {
        "body": read_raw(request, current_app.extensions["relay"].settings.limits),
        "headers": request.headers,
        "secrets": source.signing_secrets,
        "tolerance": source.signature_tolerance,
        "now": time.time(),
    }
    if source.auth == "standard_webhooks":
        return SignedRequest(message_id=verify_standard_webhook(**checks))
    if source.hmac is not None:
        # The configuration has an hmac table exactly when auth = "hmac".
        return SignedRequest(signature=verify_hmac(source.hmac, **checks))

    signed_target = {"method": request.method, "url": public_url(request)} if adapter.signs_url else {}
    return SignedRequest(signature=adapter.verify_signature(**checks, **signed_target))


def public_url(request: Request) -> str:
    """Return the URL the sender called: the configured public base URL, else the request's own."""
    # The raw target keeps the sender's percent-escapes, which werkzeug's decoded URL loses.
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path.rstrip("?")
    base = current_app.extensions["relay"].settings.public_url or request.host_url
    return base.rstrip("/") + target


def _check_token(source: Source, request: Request) -> None:
    presented = presented_token(request)
    if presented is None:
        raise Unauthorized(
            "missing token: send it as 'Authorization: Bearer <token>', "
            "in an X-Relay-Token header, or as the token query parameter"
        )
    if not token_matches(presented, source.tokens):
        raise Unauthorized("invalid token for this source")


def presented_token(request: Request) -> str | None:
    """Return the token from the Authorization header, X-Relay-Token, or the query."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()

    header = request.headers.get("X-Relay-Token", "").strip()
    if header:
        return header

    query = request.args.get("token", "").strip()
    return query or None


def token_matches(presented: str, tokens: tuple[str, ...]) -> bool:
    """Compare against every token in constant time, so timing reveals no prefix."""
    presented_bytes = presented.encode("utf-8", "surrogatepass")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented_bytes, token.encode("utf-8"))
    return matched


def _check_origin(source: Source, request: Request) -> None:
    cors.check_origin(source, request)
