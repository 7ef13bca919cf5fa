"""The console's login sessions: the signed cookie, its lifetime, and a brake on guessed tokens.

The session cookie is signed with [admin].session_secret, or else with a secret derived from the
admin token, and it also carries a fingerprint of the token. So changing the admin token logs every
operator out, whichever secret signs the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, Request, current_app, session

from app.config.model import Settings
from app.intake.auth import token_matches

SESSION_COOKIE_NAME = "relay_console"

# Failed logins one client address may make within the window before its next tries are rejected unread.
MAX_LOGIN_FAILURES = 10
LOGIN_FAILURE_WINDOW = 600.0

# Client addresses the throttle remembers at most, so a spray of addresses cannot exhaust memory.
MAX_TRACKED_ADDRESSES = 10_000


def configure_sessions(app: Flask, settings: Settings) -> None:
    """Set the app's session cookie: signed, HttpOnly, SameSite=Lax, Secure behind https, limited in time."""
    lifetime = timedelta(hours=settings.admin_session_hours)
    app.secret_key = session_secret(settings)
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(settings.public_url or "").startswith("https://"),
        PERMANENT_SESSION_LIFETIME=lifetime,
        # A form's CSRF token lasts as long as the login it was issued in.
        WTF_CSRF_TIME_LIMIT=int(lifetime.total_seconds()),
    )


def session_secret(settings: Settings) -> str:
    """Return the key that signs session cookies: [admin].session_secret, or one derived from the admin token."""
    if settings.admin_session_secret:
        return settings.admin_session_secret
    return hmac.new(settings.admin_token.encode(), b"relay console session", hashlib.sha256).hexdigest()


def log_in(settings: Settings) -> None:
    """Start an operator's session, dropping whatever the cookie carried before."""
    session.clear()
    session.permanent = True
    session["operator"] = {"since": time.time(), "token": _fingerprint(settings.admin_token)}


def log_out() -> None:
    """End the operator's session."""
    session.clear()


def logged_in(settings: Settings) -> bool:
    """Return whether the session belongs to an operator who logged in with the current token, in time."""
    operator = session.get("operator")
    if not isinstance(operator, dict):
        return False
    since = operator.get("since")
    if not isinstance(since, (int, float)) or not 0 <= time.time() - since <= settings.admin_session_hours * 3600:
        return False
    return hmac.compare_digest(str(operator.get("token")), _fingerprint(settings.admin_token))


def bearer_matches(settings: Settings, request: Request) -> bool:
    """Return whether the request carries the admin token as `Authorization: Bearer`."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return False
    return token_matches(credentials.strip(), (settings.admin_token,))


def _fingerprint(token: str) -> str:
    # The cookie is signed, not encrypted, so it carries a keyed hash of the token, never the token.
    key = str(current_app.secret_key).encode()
    return hmac.new(key, b"operator token:" + token.encode(), hashlib.sha256).hexdigest()


class LoginThrottle:
    """Counts failed logins per client address and rejects an address's logins after too many.

    NOTE: the counts live in each web process's memory, so with several gunicorn workers or hosts
    an address gets MAX_LOGIN_FAILURES tries per process, and a restart clears the counts.
    """

    def __init__(
        self,
        *,
        max_failures: int = MAX_LOGIN_FAILURES,
        window: float = LOGIN_FAILURE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Return the seconds until the address may try again, or None when it may try now."""
        with self._lock:
            recent = self._recent(address)
            if len(recent) < self.max_failures:
                return None
            return max(1, round(recent[0] + self.window - self.clock()))

    def record_failure(self, address: str) -> None:
        """Count one failed login from the address."""
        with self._lock:
            if address not in self._failures and len(self._failures) >= MAX_TRACKED_ADDRESSES:
                self._forget_stale()
            self._failures[address] = [*self._recent(address), self.clock()]

    def reset(self, address: str) -> None:
        """Forget the address's failures, after it logged in."""
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> list[float]:
        cutoff = self.clock() - self.window
        return [moment for moment in self._failures.get(address, []) if moment > cutoff]

    def _forget_stale(self) -> None:
        for address in list(self._failures):
            if not self._recent(address):
                del self._failures[address]
        # Still full: drop the address tracked longest, since dicts keep insertion order.
        while len(self._failures) >= MAX_TRACKED_ADDRESSES:
            del self._failures[next(iter(self._failures))]
