"""Rate limits on intake: per client IP before anything else, per source once authenticated.

The per-IP limit applies to every request to an intake route (posts and
preflights, unknown sources and wrong tokens included) before the source is
looked up or the body is read. Each IP is counted per source, so one source's
traffic from a shared sender (Zapier and HubSpot post from a few addresses
for all their customers) cannot use up another source's allowance. The
per-source limit counts the requests that passed authentication.

Counters live in `[limits].storage_url`, counted in fixed windows by the
`limits` package: memory for one process, Redis when several processes share
the limits. When Redis cannot be reached the limits fail open: each process
counts in its own memory instead, which is never stricter than the shared
count, so no lead is rejected because Redis is down. Only a storage error
switches to memory: an error in the relay's own key and limit lookups is
logged and replaced by a safe value (see `_guarded`).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from prometheus_client import Counter

from app.answers import error_response
from app.config.model import Settings
from app.errors import RateLimited
from app.intake.clients import IPAddress, client_ip
from app.intake.limit_settings import ip_limit, source_limit
from app.intake.memory_windows import MemoryWindows
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

# The prefix length of the network an IPv6 client is counted by.
IPV6_CLIENT_PREFIX = 64

# Seconds Redis may take to connect or to reply before this process counts in memory instead.
STORAGE_TIMEOUT = 0.5

# While counting in memory, the storage is checked again after 1, 2, 4, ... up to 2**MAX_RECHECK_STEP seconds.
MAX_RECHECK_STEP = 5

# A client over its limit may keep trying many times a second, so breaches are logged once a minute per limit.
BREACH_LOG_SECONDS = 60.0

RATE_LIMITED = Counter("relay_rate_limited_total", "Intake requests answered 429, by the limit they broke", ["limit"])
COUNTED_IN_MEMORY = Counter(
    "relay_rate_limit_memory_fallback_total",
    "Intake requests counted in this process's memory because the rate-limit storage was unreachable",
)

class LimitExceeded(Exception):
    """A request broke one of the intake limits, so the app responds with 429."""

    def __init__(self, item: RateLimitItem, scope: str, identifiers: tuple[str, ...]) -> None:
        super().__init__(str(item))
        self.item = item
        self.scope = scope
        self.identifiers = identifiers


@dataclass(frozen=True)
class _SourceLimits:
    """One source's parsed limits: per client IP, and for the source as a whole."""

    per_ip: list[RateLimitItem]
    per_source: list[RateLimitItem]


# Redis gives a window's time to live in whole seconds, rounded to the nearest, so the window may end up
# to half a second after the time `limits` derives from it.
SHARED_TTL_ROUNDING = 0.5


class FailOpenCounter:
    """Fixed-window counts in the configured storage, or in this process's memory while that storage fails."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.storage = storage_from_string(url, wrap_exceptions=True, **storage_options(url))
        # MemoryWindows replaces the memory storage of `limits`, whose cost grows with the clients counted.
        self.memory = MemoryWindows()
        in_memory_already = isinstance(self.storage, MemoryStorage)
        self.shared = self.memory if in_memory_already else FixedWindowRateLimiter(self.storage)
        self.storage_scheme = urlsplit(url).scheme
        self._lock = threading.Lock()
        self._in_memory = False
        self._recheck_at = 0.0
        self._recheck_step = 0

    @property
    def in_memory(self) -> bool:
        """Return whether counts go to this process's memory because the storage failed."""
        return self._in_memory

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one request against `item`; False when it is over the limit."""
        if self._in_memory and not self._storage_back():
            return self.memory.hit(item, *identifiers)
        try:
            return self.shared.hit(item, *identifiers)
        except StorageError:
            self._fall_back()
            return self.memory.hit(item, *identifiers)

    def reset_at(self, item: RateLimitItem, *identifiers: str) -> float:
        """Return when the window of `item` for these identifiers ends, as Unix seconds; on Redis up to 0.5 s later."""
        counter = self.memory if self._in_memory else self.shared
        try:
            reset = counter.get_window_stats(item, *identifiers).reset_time
            if counter is self.memory:
                return reset
            # No window ends later than its length from now.
            return min(reset + SHARED_TTL_ROUNDING, time.time() + item.get_expiry())
        except StorageError:
            # The storage failed after the breach, so the window's length is a safe bound.
            return time.time() + item.get_expiry()

    def _fall_back(self) -> None:
        with self._lock:
            changed = not self._in_memory
            self._in_memory = True
            self._recheck_step = 0
            self._recheck_at = self.clock() + 1
        if changed:
            log.error("rate_limit.storage_unavailable", extra={"storage": self.storage_scheme})

    def _storage_back(self) -> bool:
        """Check the storage again when its pause is over; True once it responds."""
        with self._lock:
            if self.clock() < self._recheck_at:
                return False
            self._recheck_step = min(self._recheck_step + 1, MAX_RECHECK_STEP)
            self._recheck_at = self.clock() + 2**self._recheck_step
        if not self.storage.check():
            return False
        with self._lock:
            changed = self._in_memory
            self._in_memory = False
        if changed:
            log.info("rate_limit.storage_recovered", extra={"storage": self.storage_scheme})
        return True


class IntakeLimits:
    """The relay's two intake limits, counted with the `limits` package, and the response to a breach."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        limits = settings.limits
        self.trusted_proxies = settings.trusted_proxies
        self.key_prefix = limits.key_prefix
        self.limits = {
            name: _SourceLimits(parse_many(ip_limit(source, limits)), parse_many(source_limit(source, limits)))
            for name, source in settings.sources.items()
        }
        # Unknown sources have only the per-IP limit, at its general default.
        self.unknown = _SourceLimits(parse_many(limits.per_ip), parse_many(limits.per_source))
        self.counter = FailOpenCounter(limits.storage_url)

        self._lookup_failure_logs = LogThrottle(BREACH_LOG_SECONDS)
        self._breach_logs = LogThrottle(BREACH_LOG_SECONDS)
        # A failed lookup counts the client with all clients the relay cannot tell apart, which is stricter.
        self._client_key = self._guarded(self._client_address, UNKNOWN_CLIENT)
        self._source_key = self._guarded(self._known_source, UNKNOWN_SOURCE)

        app.before_request(self.count_client)
        app.register_error_handler(LimitExceeded, self._breach_response)

    def count_client(self) -> None:
        """Count an intake request against its client's per-IP limit, raising LimitExceeded over it."""
        if request.blueprint != INTAKE_BLUEPRINT:
            # Health, status and the operators' endpoints are never limited by the intake limits.
            return
        source = self._source_key()
        limits = self.limits.get(source, self.unknown)
        self._count(limits.per_ip, f"ip:{source}", self._client_key(), request.method)
        if self.counter.in_memory:
            COUNTED_IN_MEMORY.inc()

    def count_source(self) -> None:
        """Count an authenticated request against its source's limit, raising LimitExceeded over it."""
        source = self._source_key()
        self._count(self.limits.get(source, self.unknown).per_source, SOURCE_SCOPE, source)

    def _count(self, items: list[RateLimitItem], scope: str, *keys: str) -> None:
        identifiers = (self.key_prefix, *keys, scope) if self.key_prefix else (*keys, scope)
        for item in items:
            if not self.counter.hit(item, *identifiers):
                raise LimitExceeded(item, scope, identifiers)

    def _guarded(self, lookup: Callable[[], Result], fallback: Result) -> Callable[[], Result]:
        """Wrap a per-request lookup so that an error in it is logged and yields `fallback`, never a 500."""

        @functools.wraps(lookup)
        def guarded() -> Result:
            try:
                return lookup()
            except Exception:
                failures = self._lookup_failure_logs.due(lookup.__name__)
                if failures:
                    log.exception("rate_limit.lookup_failed", extra={"lookup": lookup.__name__, "failures": failures})
                return fallback

        return guarded

    def _client_address(self) -> str:
        address = client_ip(request, self.trusted_proxies)
        return client_key(address) if address is not None else UNKNOWN_CLIENT

    def _known_source(self) -> str:
        name = (request.view_args or {}).get("source_name", UNKNOWN_SOURCE)
        return name if name in self.limits else UNKNOWN_SOURCE

    def _breach_response(self, error: LimitExceeded) -> Response:
        by_source = error.scope == SOURCE_SCOPE
        name = self._source_key()
        retry_after, reset_at = self._retry_after(error)
        if by_source:
            message = (
                f"this source's rate limit of {error.item} is used up; retry after {retry_after} seconds "
                f"(the relay's operator sets it with sources.{name}.rate_limit or [limits].per_source)"
            )
        elif name == UNKNOWN_SOURCE:
            message = (
                f"your address's rate limit of {error.item} for unknown sources is used up; retry after "
                f"{retry_after} seconds (all unknown sources share one count per address, which the relay's "
                "operator sets with [limits].per_ip)"
            )
        else:
            message = (
                f"your address's rate limit of {error.item} for this source is used up; retry after "
                f"{retry_after} seconds (the relay's operator sets it with sources.{name}.ip_rate_limit or [limits])"
            )

        kind = SOURCE_SCOPE if by_source else "ip"
        RATE_LIMITED.labels(limit=kind).inc()
        refused = self._breach_logs.due((kind, name))
        if refused:
            extra = {"limit": kind, "source": name, "rate": str(error.item), "refused": refused}
            log.warning("request.rate_limited", extra=extra)

        response = error_response(RateLimited(message, retry_after=retry_after))
        response.headers["X-RateLimit-Limit"] = str(error.item.amount)
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = str(reset_at)
        return response

    def _retry_after(self, error: LimitExceeded) -> tuple[int, int]:
        reset = self.counter.reset_at(error.item, *error.identifiers)
        # Read after the reset: Redis gives the window's end as whole seconds from its own reading of the clock.
        return retry_times(reset, time.time())


def retry_times(reset: float, now: float) -> tuple[int, int]:
    """Return whole seconds from `now` until a window ends at `reset`, at least 1, and that end as Unix seconds.

    Both are rounded up, so a client that waits either one out finds the window ended.
    """
    retry_after = max(1, math.ceil(reset - now))
    return retry_after, max(math.ceil(reset), math.ceil(now))


def client_key(address: IPAddress) -> str:
    """Return the key a client's address is counted under: an IPv4 address, or an IPv6 address's /64 network.

    A site usually gets a whole IPv6 /64, so each of its addresses must not be a fresh allowance.
    The network also drops a zone id ("%eth0"), which would otherwise make a new key.
    """
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address), IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


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
    """Count this authenticated request against its source's rate limit, raising LimitExceeded over it."""
    current_app.extensions[EXTENSION].count_source()

