"""A bound on concurrent PhoneBurner calls in one process, shared by inline attempts and the worker.

The slots are counted under a lock from the threading module, and callers
wait for one in a `WaitingLine`, first come, first served. gunicorn.conf.py
monkey-patches threading in every web worker, so there the lock and the
waits are gevent's, and a request waiting for a slot yields to the others.
In the delivery worker they are real locks and events between its threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

from app.log_throttle import LogThrottle
from app.waiting_line import WaitingLine

log = logging.getLogger("relay.phoneburner")

# While slots stay busy, one warning per this many seconds reports how many attempts were put off.
WARN_EVERY_SECONDS = 60.0

CALLS_DEFERRED = Counter(
    "relay_phoneburner_calls_deferred_total",
    "Attempts put off because every PhoneBurner call slot of the process stayed busy",
)


class CallSlots:
    """`limit` PhoneBurner calls at once, where a caller waits a bounded time for a slot, in arrival order.

    A freed slot goes to the longest waiter. With a semaphore, a request that
    arrived after the waiters could take it first, so that a waiter could use
    up its wait and reply 202 while newer requests made their calls.
    """

    def __init__(self, limit: int, *, clock=time.monotonic) -> None:
        self.limit = limit
        self._free = limit
        self._mutex = threading.Lock()
        self._line = WaitingLine(self._mutex)
        self._warnings = LogThrottle(WARN_EVERY_SECONDS, clock=clock)

    @contextmanager
    def hold(self, *, wait: float) -> Iterator[bool]:
        """Hold a slot for the block, or yield False and hold none when no slot freed up within `wait` seconds."""
        acquired = self._acquire(wait)
        try:
            yield acquired
        finally:
            if acquired:
                self._release()

    def _acquire(self, wait: float) -> bool:
        with self._mutex:
            if self._free and not self._line:
                self._free -= 1
                return True
            if wait <= 0:
                return False
            ticket = self._line.join()
        # A slot handed to this caller as it was stopped goes to the next one.
        return self._line.wait(ticket, wait, give_back=lambda _slot: self._release())

    def _release(self) -> None:
        with self._mutex:
            if not self._line.hand(None):
                self._free += 1

    def note_deferred(self) -> None:
        """Count an attempt put off for want of a slot, and warn at most once per WARN_EVERY_SECONDS."""
        CALLS_DEFERRED.inc()
        deferred = self._warnings.due()
        if deferred:
            log.warning("phoneburner.slots_busy", extra={"max_concurrent": self.limit, "deferred": deferred})
