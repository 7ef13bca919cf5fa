"""A circuit breaker for inline attempts, so intake keeps its speed while PhoneBurner is down."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app import metrics

log = logging.getLogger("relay.breaker")


class CircuitBreaker:
    """Opens after `threshold` transient failures in a row, then lets one probe through per interval.

    The state is per process: each web process learns about an outage from
    its own attempts. The worker's retries follow their own schedule.
    """

    def __init__(self, *, threshold: int, open_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        metrics.breaker_changed("closed", transition=False)

    @property
    def is_open(self) -> bool:
        """Return whether inline attempts are being skipped."""
        return self._opened_at is not None

    def allow(self) -> bool:
        """Return whether this request may make an inline attempt (closed, or the one probe)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._probing or self._clock() - self._opened_at < self.open_seconds:
                return False
            self._probing = True
            metrics.breaker_changed("half_open")
            return True

    def release_probe(self) -> None:
        """Give back a probe that made no attempt, so the breaker's state is unchanged."""
        with self._lock:
            if self._probing:
                metrics.breaker_changed("open")
            self._probing = False

    def record(self, *, transient_failure: bool) -> None:
        """Count an attempt's result: a transient failure, or any reply from PhoneBurner."""
        with self._lock:
            was_probing, self._probing = self._probing, False
            if not transient_failure:
                if self._opened_at is not None:
                    log.info("breaker.closed")
                    metrics.breaker_changed("closed")
                self._failures, self._opened_at = 0, None
                return

            self._failures += 1
            if self._failures >= self.threshold:
                if self._opened_at is None:
                    log.warning("breaker.opened", extra={"failures": self._failures})
                if self._opened_at is None or was_probing:
                    metrics.breaker_changed("open")
                self._opened_at = self._clock()
