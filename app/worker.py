"""The delivery worker: claims due leads and attempts them, retry after retry.

Any number of workers may run, on any number of hosts, against one store.
Each claim bumps the lead's fencing token and sets a lease longer than a
whole PhoneBurner call. So one worker at a time attempts a lead, and the
leads of a worker that crashed mid-attempt are taken over once the lease ends.

On SIGTERM or SIGINT the worker stops claiming and gives the attempts in
flight `shutdown_grace` seconds to finish. It then ends the lease of every
attempt still running, so another worker takes the lead over at once, as
ambiguous. A second signal ends the wait at once.
"""

from __future__ import annotations

import logging
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from app import logs
from app.alerts import BacklogWatch
from app.delivery import Deliverer
from app.store.repository import Claim, Store, StoreUnavailable

log = logging.getLogger("relay.worker")

# While the store is down, every this many failed polls logs one line.
STORE_FAILURE_LOG_EVERY = 60

# Maximum seconds the main loop sleeps at a time, so that it notices a stop soon.
WAKE_SECONDS = 0.2


class Worker:
    """Claims due leads and attempts each on a thread pool until stopped."""

    def __init__(
        self,
        store: Store,
        deliverer: Deliverer,
        *,
        lease: float,
        concurrency: int,
        poll_interval: float,
        shutdown_grace: float = 0.0,
        backlog: BacklogWatch | None = None,
    ):
        self.store = store
        self.deliverer = deliverer
        self.lease = lease
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.shutdown_grace = shutdown_grace
        self.backlog = backlog
        # stop() runs in a signal handler, so it only assigns this and takes no lock the interrupted code may hold.
        self._stop_deadline: float | None = None
        # Set by the SIGHUP handler, for the loop to log.
        self._hangup = False
        self._next_poll = 0.0
        self._store_failures = 0

    def stop_on_signals(self) -> None:
        """Make SIGTERM and SIGINT call stop(), a second signal ending the shutdown grace at once; ignore SIGHUP.

        SIGHUP reloads gunicorn, and an operator may send it to every process of the relay. By default it
        would end the worker at once, in the middle of its attempts.
        """
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signal_number, lambda *_: self.stop())
        signal.signal(signal.SIGHUP, self._note_hangup)

    def _note_hangup(self, *_signal: object) -> None:
        # A signal handler, like stop(): it only assigns, and the loop logs.
        self._hangup = True

    def _log_hangup(self) -> None:
        if self._hangup:
            self._hangup = False
            log.warning("worker.hangup_ignored", extra={"hint": "restart the worker to load a new configuration"})

    def run(self) -> list[Claim]:
        """Work until stop() is called; return the claims abandoned because their attempts outlasted the grace."""
        log.info("worker.started", extra={"concurrency": self.concurrency, "shutdown_grace": self.shutdown_grace})

        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="attempt")
        in_flight: dict[Future, Claim] = {}
        while not self.stopping:
            self._fill(pool, in_flight)
            if self.backlog is not None:
                self.backlog.check()
            self._log_hangup()
            self._pause(in_flight)

        log.info("worker.stopping", extra={"in_flight": len(in_flight), "shutdown_grace": self.shutdown_grace})
        abandoned = self._drain(in_flight)
        # Threads still inside a PhoneBurner call cannot be cancelled; the caller decides whether to wait for them.
        pool.shutdown(wait=not abandoned, cancel_futures=True)
        log.info("worker.stopped", extra={"abandoned": len(abandoned)})
        return abandoned

    @property
    def stopping(self) -> bool:
        """Whether stop() was called."""
        return self._stop_deadline is not None

    def stop(self) -> None:
        """Stop claiming and give the attempts in flight the shutdown grace; a second call ends the grace."""
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + self.shutdown_grace
        else:
            self._stop_deadline = time.monotonic()

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Claim one batch of due leads and attempt them all; return how many were attempted."""
        claims = self._claim(self.concurrency)
        if pool is None:
            for claim in claims:
                self._attempt(claim)
        else:
            list(pool.map(self._attempt, claims))
        return len(claims)

    def _claim(self, limit: int) -> list[Claim]:
        try:
            claims = self.store.claim_due(now=time.time(), lease=self.lease, limit=limit)
        except StoreUnavailable as error:
            self._store_failures += 1
            # One line at the start of an outage, then one a minute at the default poll interval.
            if self._store_failures % STORE_FAILURE_LOG_EVERY == 1:
                log.error("store.unavailable", extra={"error": str(error), "failures": self._store_failures})
            return []

        if self._store_failures:
            log.info("store.available", extra={"failures": self._store_failures})
            self._store_failures = 0
        return claims

    def _fill(self, pool: ThreadPoolExecutor, in_flight: dict[Future, Claim]) -> None:
        """Claim leads for the free threads when an attempt finished or a poll is due, and start them."""
        finished = [future for future in in_flight if future.done()]
        for future in finished:
            del in_flight[future]
        free = self.concurrency - len(in_flight)
        if free == 0 or (not finished and time.monotonic() < self._next_poll):
            return

        claims = self._claim(free)
        for claim in claims:
            in_flight[pool.submit(self._attempt, claim)] = claim
        # Fewer claims than free threads means nothing else is due now.
        self._next_poll = time.monotonic() + self.poll_interval if len(claims) < free else 0.0

    def _pause(self, in_flight: dict[Future, Claim]) -> None:
        """Sleep until an attempt finishes or the next poll is due, at most WAKE_SECONDS to notice a stop."""
        until_poll = max(0.0, self._next_poll - time.monotonic())
        if not in_flight:
            time.sleep(min(until_poll, WAKE_SECONDS))
            return
        # With every thread busy, only a finished attempt lets the loop claim again.
        busy = len(in_flight) >= self.concurrency
        wait(in_flight, timeout=WAKE_SECONDS if busy else min(until_poll, WAKE_SECONDS), return_when=FIRST_COMPLETED)

    def _drain(self, in_flight: dict[Future, Claim]) -> list[Claim]:
        """Wait for the attempts in flight until the stop deadline, then abandon the claims still running."""
        while in_flight:
            remaining = (self._stop_deadline or 0.0) - time.monotonic()
            if remaining <= 0:
                break
            # Short waits, so that a second signal, which moves the deadline, takes effect soon.
            done, _ = wait(in_flight, timeout=min(remaining, WAKE_SECONDS), return_when=FIRST_COMPLETED)
            for future in done:
                del in_flight[future]

        abandoned = list(in_flight.values())
        for claim in abandoned:
            self._abandon(claim)
        return abandoned

    def _abandon(self, claim: Claim) -> None:
        logs.lead_id.set(claim.lead_id)
        try:
            ended = self.store.abandon(claim, now=time.time())
            log.warning("worker.claim_abandoned", extra={"lease_ended": ended})
        except StoreUnavailable as error:
            # The lease then runs out on its own, and another worker takes the lead over.
            log.error("store.unavailable", extra={"error": str(error)})
        finally:
            logs.lead_id.set(None)

    def _attempt(self, claim: Claim) -> None:
        logs.lead_id.set(claim.lead_id)
        try:
            if self.stopping:
                # Stopped between the claim and its attempt: give the lead back untouched, for any worker.
                self.store.release(claim, {"updated_at": time.time()})
                log.info("worker.claim_released")
                return
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
