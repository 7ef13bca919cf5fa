"""Rate limits on intake, with Flask-Limiter: per client IP before anything else, per source once authenticated.

The per-IP limit applies to every request to an intake route (posts and
preflights, unknown sources and wrong tokens included) before the source is
looked up or the body is read. Each IP is counted per source, so one source's
traffic from a shared sender (Zapier and HubSpot post from a few addresses
for all their customers) cannot use up another source's allowance. The
per-source limit counts the requests that passed authentication.

Counters live in `[limits].storage_url`: memory for one process, Redis when
several processes share the limits. When Redis cannot be reached the limits
fail open: each process counts in its own memory instead, which is never
stricter than the shared count, so no lead is refused because Redis is down.
Only a storage error switches to memory: an error in the relay's own key and
limit lookups is logged and replaced by a safe value (see `_guarded`).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_limiter import Limit, Limiter
from flask_limiter.constants import HeaderNames
from flask_limiter.errors import RateLimitExceeded
from prometheus_client import Counter

from app.answers import error_response
from app.config.model import Settings
from app.errors import RateLimited
from app.intake.clients import client_ip
from app.intake.limit_settings import ip_limit, source_limit
from app.log_throttle import LogThrottle

log = logging.getLogger("relay.limits")

Result = TypeVar("Result")

EXTENSION = "relay_rate_limits"
INTAKE_BLUEPRINT = "intake"
SOURCE_SCOPE = "source"

# Posts to source names the relay does not know share one count per IP, whatever name they used.
UNKNOWN_SOURCE = "-unknown-"
# Requests whose address the relay cannot tell (a Unix socket without a proxy header) share one count.
UNKNOWN_CLIENT = "unknown"

# Seconds Redis may take to connect or to reply before this process counts in memory instead.
STORAGE_TIMEOUT = 0.5

# A client over its limit may keep trying many times a second, so breaches are logged once a minute per limit.
BREACH_LOG_SECONDS = 60.0

RATE_LIMITED = Counter("relay_rate_limited_total", "Intake requests answered 429, by the limit they broke", ["limit"])
COUNTED_IN_MEMORY = Counter(
    "relay_rate_limit_memory_fallback_total",
    "Intake requests counted in this process's memory because the rate-limit storage was unreachable",
)


class IntakeLimits:
    """The app's Flask-Limiter extension with the relay's two limits, and the response to a breach."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        limits = settings.limits
        self.trusted_proxies = settings.trusted_proxies
        self.ip_limits = {name: ip_limit(source, limits) for name, source in settings.sources.items()}
        self.source_limits = {name: source_limit(source, limits) for name, source in settings.sources.items()}
        self.default_ip_limit = limits.per_ip
        self.default_source_limit = limits.per_source
        self.storage_scheme = urlsplit(limits.storage_url).scheme

        self._lookup_failure_logs = LogThrottle(BREACH_LOG_SECONDS)
        # A failed lookup counts the client with all clients the relay cannot tell apart, which is stricter.
        client_key = self._guarded(self._client_key, UNKNOWN_CLIENT)
        per_ip = Limit(
            self._guarded(self._ip_limit, limits.per_ip),
            key_function=client_key,
            scope=self._guarded(self._ip_scope, f"ip:{UNKNOWN_SOURCE}"),
            per_method=True,
        )
        self.limiter = Limiter(
            client_key,
            default_limits=[per_ip],
            storage_uri=limits.storage_url,
            storage_options=storage_options(limits.storage_url),
            strategy="fixed-window",
            key_prefix=limits.key_prefix,
            # The relay writes its own headers on 429 responses only (see _breach_response).
            headers_enabled=False,
            # Fail open: while the storage is unreachable, each process counts in memory.
            in_memory_fallback_enabled=True,
        )
        self.limiter.request_filter(_outside_intake)
        self.limiter.init_app(app)

        # The view checks this limit once the request has authenticated, with the limit and key of its source.
        # override_defaults=False keeps the per-IP limit in force on the routes where this limit has run.
        self.source_limit = self.limiter.limit(
            self._guarded(self._source_limit, limits.per_source),
            key_func=self._guarded(self._source_name, UNKNOWN_SOURCE),
            scope=SOURCE_SCOPE,
            override_defaults=False,
        )

        self._storage_lock = threading.Lock()
        self._counting_in_memory = False
        self._breach_logs = LogThrottle(BREACH_LOG_SECONDS)
        app.register_error_handler(RateLimitExceeded, self._breach_response)
        app.after_request(self._watch_storage)
        # Flask-Limiter logs each breach with the client's address, so the relay logs its own lines instead.
        logging.getLogger("flask-limiter").propagate = False

    def count_source(self) -> None:
        """Count an authenticated request against its source's limit, raising RateLimitExceeded over it."""
        # Flask-Limiter checks a limit used as a context manager on entering the block.
        with self.source_limit:
            pass

    def _guarded(self, lookup: Callable[..., Result], fallback: Result) -> Callable[..., Result]:
        """Wrap a lookup Flask-Limiter calls per request so that an error in it is logged and yields `fallback`.

        Flask-Limiter 4.1 takes any exception raised while it checks a request for a storage failure, and then
        counts in each process's memory. A request that makes a lookup fail must not switch off the shared count.
        """

        @functools.wraps(lookup)
        def guarded(*args: object) -> Result:
            try:
                return lookup(*args)
            except Exception:
                failures = self._lookup_failure_logs.due(lookup.__name__)
                if failures:
                    log.exception("rate_limit.lookup_failed", extra={"lookup": lookup.__name__, "failures": failures})
                return fallback

        return guarded

    def _client_key(self) -> str:
        address = client_ip(request, self.trusted_proxies)
        return str(address) if address is not None else UNKNOWN_CLIENT

    def _source_name(self) -> str:
        return (request.view_args or {}).get("source_name", UNKNOWN_SOURCE)

    def _known_source(self) -> str:
        name = self._source_name()
        return name if name in self.ip_limits else UNKNOWN_SOURCE

    def _ip_scope(self, endpoint: str) -> str:
        return f"ip:{self._known_source()}"

    def _ip_limit(self) -> str:
        return self.ip_limits.get(self._known_source(), self.default_ip_limit)

    def _source_limit(self) -> str:
        # Flask-Limiter reads this limit on every request to a route where it has run once, unknown sources included.
        return self.source_limits.get(self._known_source(), self.default_source_limit)

    def _breach_response(self, error: RateLimitExceeded) -> Response:
        by_source = error.limit.scope == SOURCE_SCOPE
        name = self._known_source()
        retry_after, reset_at = self._retry_after(error)
        if by_source:
            message = (
                f"this source's rate limit of {error.limit.limit} is used up; retry after {retry_after} seconds "
                f"(the relay's operator sets it with sources.{name}.rate_limit or [limits].per_source)"
            )
        elif name == UNKNOWN_SOURCE:
            message = (
                f"your address's rate limit of {error.limit.limit} for unknown sources is used up; retry after "
                f"{retry_after} seconds (all unknown sources share one count per address, which the relay's "
                "operator sets with [limits].per_ip)"
            )
        else:
            message = (
                f"your address's rate limit of {error.limit.limit} for this source is used up; retry after "
                f"{retry_after} seconds (the relay's operator sets it with sources.{name}.ip_rate_limit or [limits])"
            )

        kind = SOURCE_SCOPE if by_source else "ip"
        RATE_LIMITED.labels(limit=kind).inc()
        refused = self._breach_logs.due((kind, name))
        if refused:
            extra = {"limit": kind, "source": name, "rate": str(error.limit.limit), "refused": refused}
            log.warning("request.rate_limited", extra=extra)

        response = error_response(RateLimited(message, retry_after=retry_after))
        response.headers[HeaderNames.LIMIT.value] = str(error.limit.limit.amount)
        response.headers[HeaderNames.REMAINING.value] = "0"
        response.headers[HeaderNames.RESET.value] = str(reset_at)
        return response

    def _retry_after(self, error: RateLimitExceeded) -> tuple[int, int]:
        """Return whole seconds until the broken limit's window ends, at least 1, and that moment."""
        now = time.time()
        try:
            current = self.limiter.current_limit
            reset = current.window.reset_time if current is not None else now + error.limit.limit.get_expiry()
        except Exception:  # The storage failed after the breach, so the window's length is a safe bound.
            reset = now + error.limit.limit.get_expiry()
        retry_after = max(1, math.ceil(reset - now))
        return retry_after, math.ceil(now) + retry_after

    def _watch_storage(self, response: Response) -> Response:
        """Log once when the limits start or stop counting in memory, and count each request counted there."""
        if request.blueprint != INTAKE_BLUEPRINT:
            return response

        in_memory = self.limiter.limiter.storage is not self.limiter.storage
        if in_memory:
            COUNTED_IN_MEMORY.inc()
        with self._storage_lock:
            changed = in_memory != self._counting_in_memory
            self._counting_in_memory = in_memory
        if changed and in_memory:
            log.error("rate_limit.storage_unavailable", extra={"storage": self.storage_scheme})
        elif changed:
            log.info("rate_limit.storage_recovered", extra={"storage": self.storage_scheme})
        return response


def storage_options(url: str) -> dict[str, float]:
    """Return the storage client's options: short timeouts for Redis, so an outage cannot stall intake."""
    if url.startswith("memory://"):
        return {}
    return {"socket_connect_timeout": STORAGE_TIMEOUT, "socket_timeout": STORAGE_TIMEOUT}


def install(app: Flask, settings: Settings) -> IntakeLimits:
    """Attach the intake rate limits to the app."""
    limits = IntakeLimits(app, settings)
    app.extensions[EXTENSION] = limits
    return limits


def count_source() -> None:
    """Count this authenticated request against its source's rate limit, raising RateLimitExceeded over it."""
    current_app.extensions[EXTENSION].count_source()


def _outside_intake() -> bool:
    # Health, status and the operators' endpoints are never limited by the intake limits.
    return request.blueprint != INTAKE_BLUEPRINT

