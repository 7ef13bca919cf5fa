"""The delivery worker: claims due leads and attempts them, retry after retry.

Any number of workers may run, on any number of hosts, against one store.
Each claim bumps the lead's fencing token and sets a lease longer than a
whole PhoneBurner call. So one worker at a time attempts a lead, and the
leads of a worker that crashed mid-attempt are taken over once the lease ends.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app import logs
from app.delivery import Deliverer
from app.store.repository import Claim, Store, StoreUnavailable

log = logging.getLogger("relay.worker")

# While the store is down, every this many failed polls logs one line.
STORE_FAILURE_LOG_EVERY = 60


class Worker:
    """Claims batches of due leads and attempts each on a thread pool until stopped."""

    def __init__(self, store: Store, deliverer: Deliverer, *, lease: float, concurrency: int, poll_interval: float):
        self.store = store
        self.deliverer = deliverer
        self.lease = lease
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.stopping = threading.Event()
        self._store_failures = 0

    def run(self) -> None:
        """Work until stop() is called, or SIGTERM or SIGINT arrives."""
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signal_number, lambda *_: self.stop())
        log.info("worker.started", extra={"concurrency": self.concurrency})

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="attempt") as pool:
            while not self.stopping.is_set():
                done = self.run_once(pool)
                if done == 0:
                    self.stopping.wait(self.poll_interval)
        log.info("worker.stopped")

    def stop(self) -> None:
        """Finish the attempts in progress, then stop."""
        self.stopping.set()

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Claim one batch of due leads and attempt them all; return how many were attempted."""
        try:
            claims = self.store.claim_due(now=time.time(), lease=self.lease, limit=self.concurrency)
        except StoreUnavailable as error:
            self._store_failures += 1
            # One line at the start of an outage, then one a minute at the default poll interval.
            if self._store_failures % STORE_FAILURE_LOG_EVERY == 1:
                log.error("store.unavailable", extra={"error": str(error), "failures": self._store_failures})
            return 0

        if self._store_failures:
            log.info("store.available", extra={"failures": self._store_failures})
            self._store_failures = 0

        if pool is None:
            for claim in claims:
                self._attempt(claim)
        else:
            list(pool.map(self._attempt, claims))
        return len(claims)

    def _attempt(self, claim: Claim) -> None:
        logs.lead_id.set(claim.lead_id)
        try:
            row = self.store.get(claim.lead_id)
            if row is not None:
                # The id of the request that brought the lead, so its attempts join that request's logs.
                logs.request_id.set(row.get("request_id"))
                self.deliverer.attempt(claim, row)
        except StoreUnavailable as error:
            # The lease runs out and another claim retries the lead.
            log.error("store.unavailable", extra={"error": str(error)})
        except Exception:
            log.exception("worker.attempt_failed")
        finally:
            logs.lead_id.set(None)
            logs.request_id.set(None)
