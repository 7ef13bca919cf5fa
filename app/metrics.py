"""The relay's Prometheus metrics: every definition, and the calls that record them.

Labels take only values from small fixed sets: source names from the
configuration, statuses, reply classes, PhoneBurner's reason codes, reason
codes of the relay's errors, and route patterns. No email, lead id, token or
raw path ever becomes a label value.

Under gunicorn the values live in PROMETHEUS_MULTIPROC_DIR, one file per
process, so the environment variable must be set before this module is
imported (app/metrics_dir.py). The gauges read from the store are not here:
they are computed at scrape time by app/metrics_export.py.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.log_throttle import LogThrottle

log = logging.getLogger("relay.metrics")

# The relay's own metrics, apart from prometheus_client's default registry and its process collectors,
# whose values would be wrong summed over gunicorn's workers.
REGISTRY = CollectorRegistry()

# Seconds: from a quick reply up to [phoneburner].read_timeout (10 s by default) and a slow body after it.
ATTEMPT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Seconds; a request with an inline attempt lasts up to [delivery].inline_budget (8 s by default).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# The breaker_state gauge's values.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

leads_received = Counter(
    "relay_leads_received",
    "Leads answered at intake, by source and the status in the answer; repeats are counted apart.",
    ["source", "status"],
    registry=REGISTRY,
)
lead_repeats = Counter(
    "relay_lead_repeats",
    "Repeated requests answered with their first lead's answer, by source.",
    ["source"],
    registry=REGISTRY,
)
phoneburner_replies = Counter(
    "relay_phoneburner_replies",
    "put_contact attempts by who made them (inline or worker), reply class and reason.",
    ["via", "reply_class", "reason"],
    registry=REGISTRY,
)
attempt_duration = Histogram(
    "relay_phoneburner_attempt_duration_seconds",
    "Duration of put_contact calls, by who made them (inline or worker).",
    ["via"],
    buckets=ATTEMPT_BUCKETS,
    registry=REGISTRY,
)
request_errors = Counter(
    "relay_request_errors",
    "Error answers (401, 403, 404, 429, ...) by source (empty when none), HTTP status and reason code.",
    ["source", "http_status", "reason"],
    registry=REGISTRY,
)
request_duration = Histogram(
    "relay_http_request_duration_seconds",
    "Duration of HTTP requests, by route pattern and status class (2xx, 4xx, ...).",
    ["route", "status_class"],
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)
breaker_state = Gauge(
    "relay_breaker_state",
    "The inline attempts' circuit breaker: 0 closed, 1 half-open, 2 open; the highest over live web processes.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
breaker_transitions = Counter(
    "relay_breaker_transitions",
    "Changes of a web process's circuit breaker, by the state entered.",
    ["state"],
    registry=REGISTRY,
)

P = ParamSpec("P")

# A broken metrics directory fails every recording, so the failures are logged once a minute with their count.
FAILURE_LOG_SECONDS = 60.0
_failure_log = LogThrottle(FAILURE_LOG_SECONDS)


def _never_raises(record: Callable[P, None]) -> Callable[P, None]:
    """Wrap a recording function so a metrics fault (a removed directory, a full disk) cannot fail a request."""

    @functools.wraps(record)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception as error:
            failures = _failure_log.due()
            if failures:
                log.error("metrics.record_failed", extra={"error": f"{type(error).__name__}: {error}",
                                                          "failures": failures})

    return wrapper


@_never_raises
def lead_answered(source: str, status: str, *, repeat: bool) -> None:
    """Count a lead's answer at intake."""
    if repeat:
        lead_repeats.labels(source).inc()
    else:
        leads_received.labels(source, status).inc()


@_never_raises
def attempt_finished(via: str, reply_class: str, reason: str | None, seconds: float | None) -> None:
    """Count a put_contact attempt's reply and observe its duration."""
    phoneburner_replies.labels(via, reply_class, reason or "").inc()
    if seconds is not None:
        attempt_duration.labels(via).observe(seconds)


@_never_raises
def error_answered(source: str, http_status: int, reason: str) -> None:
    """Count an error answer in the JSON envelope."""
    request_errors.labels(source, str(http_status), reason).inc()


@_never_raises
def request_finished(route: str, http_status: int, seconds: float) -> None:
    """Observe an HTTP request's duration."""
    request_duration.labels(route, f"{http_status // 100}xx").observe(seconds)


@_never_raises
def breaker_changed(state: str, *, transition: bool = True) -> None:
    """Set this process's breaker state; count it as a transition unless it is the initial state."""
    breaker_state.set(BREAKER_STATES[state])
    if transition:
        breaker_transitions.labels(state).inc()
