"""What the fuzz tests share: a relay with one source per way of posting, and what counts as authenticated."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.adapters import ADAPTERS
from tests.conftest import OTHER_TOKEN, SUCCESS, TOKEN, base_document

ADMIN_TOKEN = "admin-token-for-tests-cccccccc"
SIGNING_SECRET = "signing-secret-for-fuzz-tests"
ALLOWED_ORIGIN = "https://forms.example.com"
SUCCESS_URL = "https://forms.example.com/thanks"
ERROR_URL = "https://forms.example.com/sorry"

# Token sources, one per adapter, so random bodies meet every tool's unwrapping.
TOKEN_SOURCES = tuple(f"{name}-source" for name in ADAPTERS)

# Sources with a response mode, customer choice or auth mode of their own.
ALWAYS_200_SOURCE = "always-200"
MULTI_CUSTOMER_SOURCE = "multi"
BROWSER_SOURCE = "browser"
SIGNED_SOURCE = "signed-typeform"

SOURCES = (*TOKEN_SOURCES, ALWAYS_200_SOURCE, MULTI_CUSTOMER_SOURCE, BROWSER_SOURCE, SIGNED_SOURCE)

# Emails that make the mocked PhoneBurner answer other than SUCCESS.
DUPLICATE_EMAIL = "duplicate@example.com"
UNAVAILABLE_EMAIL = "unavailable@example.com"


def fuzz_document() -> dict[str, Any]:
    """Return a configuration with a source for every adapter, response mode and auth mode."""
    document = base_document()
    document["admin"] = {"token": ADMIN_TOKEN}
    # Sequential test requests never overlap, so a repeat has nothing to wait for.
    document["delivery"] = {"repeat_wait": 0}
    # Every example comes from one address, and the rate limits have tests of their own.
    unlimited = "1000000/minute"
    document["limits"] = {"per_ip": unlimited, "per_source": unlimited, "per_ip_browser": unlimited}
    # Only the sources below, so SOURCES names every one that exists.
    sources = document["sources"] = {}
    for adapter, name in zip(ADAPTERS, TOKEN_SOURCES, strict=True):
        sources[name] = {"customer": "acme", "adapter": adapter, "tokens": [TOKEN, OTHER_TOKEN]}
    sources[ALWAYS_200_SOURCE] = {
        "customer": "acme", "adapter": "elementor", "tokens": [TOKEN], "response_mode": "always_200",
    }
    document["customers"]["globex"]["leadstreams"]["spanish"] = "GGSP"
    sources[MULTI_CUSTOMER_SOURCE] = {
        "customers": ["acme", "globex"], "leadstream": "spanish", "leadstreams": ["spanish"], "tokens": [TOKEN],
    }
    sources[BROWSER_SOURCE] = {
        "customer": "acme",
        "auth": "none",
        "allowed_origins": [ALLOWED_ORIGIN],
        "response_mode": "redirect",
        "success_url": SUCCESS_URL,
        "error_url": ERROR_URL,
    }
    sources[SIGNED_SOURCE] = {
        "customer": "acme", "adapter": "typeform", "auth": "signature", "signing_secret": SIGNING_SECRET,
    }
    return document


def phoneburner_reply(request) -> tuple[int, dict[str, str], str]:
    """Answer a put_contact call as PhoneBurner would: SUCCESS, except for the lead emails above.

    Neither answer is a fault of the relay's configuration, so no input may turn into a 5xx.
    """
    email = parse_qs(urlsplit(request.url).query).get("email", [""])[0]
    if email == DUPLICATE_EMAIL:
        return 200, {}, "ERROR|DUPLICATE EMAIL"
    if email == UNAVAILABLE_EMAIL:
        return 503, {"Retry-After": "60"}, "Service Unavailable"
    return 200, {}, SUCCESS


def typeform_signature(body: bytes) -> str:
    """Return the Typeform-Signature header value that SIGNED_SOURCE accepts for `body`."""
    digest = hmac.new(SIGNING_SECRET.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def presented_tokens(headers: Mapping[str, str], query: Mapping[str, str]) -> set[str]:
    """Return every token a request presents, in any of the three places the relay reads."""
    tokens = {headers.get("X-Relay-Token", "").strip(), query.get("token", "").strip()}
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        tokens.add(credentials.strip())
    return tokens - {""}


def may_reach_phoneburner(source: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> bool:
    """Return whether a post to `source` proves its sender, so the relay may call PhoneBurner for it.

    This is the test's own model of authentication, written independently of
    app/intake/auth.py, so a fault there shows up as a PhoneBurner call.
    """
    if source == BROWSER_SOURCE:
        origin = headers.get("Origin")
        return origin is None or origin.rstrip("/") == ALLOWED_ORIGIN
    if source == SIGNED_SOURCE:
        return headers.get("Typeform-Signature", "").strip() == typeform_signature(body)
    if source in SOURCES:
        return bool(presented_tokens(headers, query) & {TOKEN, OTHER_TOKEN})
    return False
