"""Alerts to a chat webhook: a customer on hold, the circuit breaker, a queue falling behind.

Each alert is one Slack-compatible JSON POST, `{"text": "..."}`, to
`[alerts].webhook_url`, sent from a background thread (a greenlet under
gunicorn's gevent workers) with a short timeout. So a slow or broken webhook
never delays or breaks delivery; a failed alert is logged once and dropped.

Several processes on several hosts may see one fault. So an alert is first
marked in the store's `alert_marks` table, and an alert of one kind and
subject goes out at most once per `min_interval_minutes` from all processes
together. Hold alerts skip that limit: the store puts a customer on
hold only once, so the process that set the hold is the only one that sends
it, and only an operator's resume lets it happen again.

Alert texts name customers, PhoneBurner's reason codes, counts, ages, hosts
and process ids. They never carry a lead's fields, its body, a token or the
vendor key.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from app import __version__
from app.cli_format import format_count
from app.config.model import Settings
from app.store.repository import Store, StoreUnavailable

log = logging.getLogger("relay.alerts")

# Seconds to open the connection to the webhook, and to wait for its response.
WEBHOOK_TIMEOUT = (3.05, 5.0)

# Alerts waiting for the background thread. More are dropped, so a stuck webhook cannot fill memory.
MAX_PENDING = 100

CUSTOMER_ON_HOLD = "customer_on_hold"
BREAKER_OPEN = "breaker_open"
QUEUE_BEHIND = "queue_behind"


@dataclass(frozen=True)
class Alert:
    """One message for the webhook, and what decides whether it is sent."""

    kind: str
    subject: str
    text: str
    # Sent only if no alert of this kind and subject went out within the interval.
    rate_limited: bool = True
    # A recovery message: sent only if this process sent the alert it ends.
    resolves: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"


class Alerter:
    """Sends alerts to one webhook from a background thread, at most one per kind and subject per interval.

    Without a webhook URL every method does nothing, so callers need no check.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None,
        min_interval: float,
        store: Store | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.webhook_url = webhook_url
        self.min_interval = min_interval
        self.store = store
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"phoneburner-lead-relay/{__version__}"
        self.clock = clock
        self._pending: queue.Queue[Alert | threading.Event] = queue.Queue(maxsize=MAX_PENDING)
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Touched only by the background thread.
        self._announced: set[str] = set()
        self._local_marks: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None) -> Alerter:
        """Build the alerter for [alerts], sharing its rate limit through `store`."""
        alerts = settings.alerts
        return cls(webhook_url=alerts.webhook_url, min_interval=alerts.min_interval_minutes * 60, store=store)

    @property
    def enabled(self) -> bool:
        """Whether a webhook URL is configured."""
        return self.webhook_url is not None

    # --- the relay's alerts -------------------------------------------------

    def customer_held(self, customer: str, reason: str) -> None:
        """Alert that a customer is on hold after a configuration fault, with the command that lifts it."""
        text = (
            f"Customer {customer} is on hold: PhoneBurner answered {reason}, a configuration fault. "
            "Its new leads are stored and queued, and none is sent until the hold is lifted. "
            "Check the customer's user_id and LeadStream cm_ids in the relay's configuration "
            "(restart the relay after a change) and its PhoneBurner account. "
            f"Then run: python -m app customers resume {customer}"
        )
        self.fire(Alert(CUSTOMER_ON_HOLD, customer, text, rate_limited=False))

    def breaker_opened(self, failures: int, reason: str | None) -> None:
        """Alert that this process's circuit breaker opened, or stays open after a failed probe."""
        last = f" (last: {reason})" if reason else ""
        text = (
            f"PhoneBurner is failing: the circuit breaker opened in {_process()} after {failures} "
            f"transient failures in a row{last}. Inline attempts are skipped: leads are stored, answered "
            f"202 queued, and retried by the delivery worker. A message follows when PhoneBurner answers again."
        )
        self.fire(Alert(BREAKER_OPEN, "phoneburner", text))

    def breaker_closed(self) -> None:
        """Report that the breaker closed, if this process sent the alert that it opened."""
        text = f"PhoneBurner answers again: the circuit breaker closed in {_process()}, and inline attempts resumed."
        self.fire(Alert(BREAKER_OPEN, "phoneburner", text, resolves=True))

    def queue_behind(self, queued: int, oldest_age: float, threshold: float) -> None:
        """Alert that the oldest queued lead waits longer than the threshold (ages in seconds)."""
        text = (
            f"Delivery is behind: {format_count(queued, 'lead')} queued, the oldest for {_minutes(oldest_age)} "
            f"(alert threshold {_minutes(threshold)}; customers on hold are not counted). "
            f"Check that a delivery worker runs (python -m app worker) and whether PhoneBurner fails: "
            f"python -m app leads list --status queued"
        )
        self.fire(Alert(QUEUE_BEHIND, "leads", text))

    def queue_caught_up(self, queued: int, threshold: float) -> None:
        """Report that no queued lead is older than the threshold, if this process sent the alert."""
        text = (
            f"Delivery caught up: no queued lead is older than {_minutes(threshold)} "
            f"({format_count(queued, 'lead')} queued)."
        )
        self.fire(Alert(QUEUE_BEHIND, "leads", text, resolves=True))

    # --- sending ------------------------------------------------------------

    def fire(self, alert: Alert) -> None:
        """Queue an alert for the background thread without waiting; drop it when the queue is full."""
        if not self.enabled:
            return
        self._start()
        try:
            self._pending.put_nowait(alert)
        except queue.Full:
            log.warning("alert.dropped", extra={"kind": alert.kind, "subject": alert.subject})

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the queued alerts to be sent; return whether they were."""
        if self._thread is None:
            return True
        done = threading.Event()
        try:
            self._pending.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float) -> bool:
        """Send what is queued within `timeout` seconds, then close the connections; return whether all went."""
        flushed = self.flush(timeout)
        self.session.close()
        return flushed

    def _start(self) -> None:
        # Started on first use, so a process forked after building the alerter runs its own thread.
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._pending.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self._handle(item)
            except Exception:
                # Nothing in an alert may stop the thread; the next alert gets its own chance.
                log.exception("alert.failed", extra={"kind": item.kind, "subject": item.subject})

    def _handle(self, alert: Alert) -> None:
        if alert.resolves:
            if alert.key not in self._announced:
                return
            self._announced.discard(alert.key)
        elif alert.rate_limited and not self._take_slot(alert.key):
            log.debug("alert.suppressed", extra={"kind": alert.kind, "subject": alert.subject})
            return

        if self._post(alert) and not alert.resolves:
            self._announced.add(alert.key)

    def _take_slot(self, key: str) -> bool:
        now = self.clock()
        if self.store is not None:
            try:
                return self.store.take_alert_slot(key, now=now, interval=self.min_interval)
            except StoreUnavailable as error:
                log.warning("alert.rate_limit_local", extra={"error": str(error)})

        # Without the store, the limit applies within this process only.
        last = self._local_marks.get(key)
        if last is not None and now - last < self.min_interval:
            return False
        self._local_marks[key] = now
        return True

    def _post(self, alert: Alert) -> bool:
        fields = {"kind": alert.kind, "subject": alert.subject}
        try:
            response = self.session.post(
                self.webhook_url, json={"text": alert.text}, timeout=WEBHOOK_TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as error:
            # The error's text names the URL, which is a secret for Slack: log its type only.
            log.warning("alert.failed", extra={**fields, "error": type(error).__name__})
            return False

        if not 200 <= response.status_code < 300:
            log.warning("alert.failed", extra={**fields, "http_status": response.status_code})
            return False
        log.info("alert.sent", extra={**fields, "resolves": alert.resolves})
        return True


def _process() -> str:
    # Read at each alert: gunicorn forks its workers after the app module is imported.
    return f"process {os.getpid()} on host {socket.gethostname()}"


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class BacklogWatch:
    """Checks the age of the oldest queued lead now and then, and alerts while it is over the threshold."""

    def __init__(
        self,
        store: Store,
        alerter: Alerter,
        *,
        threshold: float,
        every: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.alerter = alerter
        self.threshold = threshold
        self.every = every
        self.clock = clock
        self.behind = False
        self._next_check = 0.0

    def check(self) -> None:
        """Run the check if `every` seconds passed since the last one; cheap enough for every loop."""
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.every
        try:
            queued, oldest = self.store.queue_backlog()
        except StoreUnavailable:
            # The worker's own polling reports the store's outage.
            return

        age = self.clock() - oldest if oldest is not None else 0.0
        behind = age >= self.threshold
        if behind:
            if not self.behind:
                log.warning("queue.behind", extra={"queued": queued, "oldest_age_s": round(age)})
            # Called on every check while behind: the rate limit turns it into a reminder per interval.
            self.alerter.queue_behind(queued, age, self.threshold)
        elif self.behind:
            log.info("queue.caught_up", extra={"queued": queued})
            self.alerter.queue_caught_up(queued, self.threshold)
        self.behind = behind
