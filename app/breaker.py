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

    def __init__(
        self,
        *,
        threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_open: Callable[[int, str | None], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self._clock = clock
        # Called outside the lock. on_open gets the failure count and the last reply's reason, on each
        # opening and again after each failed probe. on_close is called when a reply closes the breaker.
        self._on_open = on_open
        self._on_close = on_close
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

    def record(self, *, transient_failure: bool, reason: str | None = None) -> None:
        """Count an attempt's result: a transient failure (with its reason), or any reply from PhoneBurner."""
        with self._lock:
            was_probing, self._probing = self._probing, False
            was_open = self._opened_at is not None
            if transient_failure:
                self._failures += 1
            else:
                self._failures, self._opened_at = 0, None
            failures = self._failures
            opened = failures >= self.threshold
            if opened:
                if not was_open or was_probing:
                    metrics.breaker_changed("open")
                self._opened_at = self._clock()
            elif was_open and not transient_failure:
                metrics.breaker_changed("closed")

        if opened:
            if not was_open:
                log.warning("breaker.opened", extra={"failures": failures})
            if self._on_open is not None:
                self._on_open(failures, reason)
        elif was_open and not transient_failure:
            log.info("breaker.closed")
            if self._on_close is not None:
                self._on_close()
