"""A bound on concurrent PhoneBurner calls in one process, shared by inline attempts and the worker.

The slots are a semaphore from the threading module. gunicorn.conf.py
monkey-patches threading in every web worker, so there it is gevent's
semaphore, and a request waiting for a slot yields to the others. In the
delivery worker it is a real semaphore between its threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

from app.log_throttle import LogThrottle

log = logging.getLogger("relay.phoneburner")

# While slots stay busy, one warning per this many seconds reports how many attempts were put off.
WARN_EVERY_SECONDS = 60.0

CALLS_DEFERRED = Counter(
    "relay_phoneburner_calls_deferred_total",
    "Attempts put off because every PhoneBurner call slot of the process stayed busy",
)


class CallSlots:
    """A semaphore of `limit` PhoneBurner calls at once, where a caller waits a bounded time for a slot."""

    def __init__(self, limit: int, *, clock=time.monotonic) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._warnings = LogThrottle(WARN_EVERY_SECONDS, clock=clock)

    @contextmanager
    def hold(self, *, wait: float) -> Iterator[bool]:
        """Hold a slot for the block, or yield False and hold none when no slot freed up within `wait` seconds."""
        acquired = self._semaphore.acquire(timeout=max(wait, 0.0))
        try:
            yield acquired
        finally:
            if acquired:
                self._semaphore.release()

    def note_deferred(self) -> None:
        """Count an attempt put off for want of a slot, and warn at most once per WARN_EVERY_SECONDS."""
        CALLS_DEFERRED.inc()
        deferred = self._warnings.due()
        if deferred:
            log.warning("phoneburner.slots_busy", extra={"max_concurrent": self.limit, "deferred": deferred})
