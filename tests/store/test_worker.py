"""Worker.run_once over a real store: outages, recovery, and a store that fails."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from app import delivery
from app.store.repository import Store, StoreUnavailable
from tests.conftest import PB_URL, SUCCESS
from tests.store.helpers import LONG_LEASE, lead_row

LEADS = 6
OUTAGE_CALLS = 9
BACKOFF_MAX = 4
# Enough passes for every lead to outlast the outage. The clock moves BACKOFF_MAX seconds after each
# pass, so every retry is due at the next one.
MAX_PASSES = 30


class OutageThenRecovery:
    """A put_contact callback: a refused connection for the first `outage_calls` requests, then SUCCESS."""

    def __init__(self, outage_calls: int) -> None:
        self.remaining = outage_calls
        self.lock = threading.Lock()
        self.calls = Counter()
        self.successes = Counter()

    def __call__(self, request):
        email = parse_qs(urlsplit(request.url).query)["email"][0]
        with self.lock:
            self.calls[email] += 1
            if self.remaining > 0:
                self.remaining -= 1
                return requests.ConnectionError(ConnectionRefusedError("connection refused"))
            self.successes[email] += 1
        return 200, {}, SUCCESS


def run_until_settled(store, worker, clock, pool=None) -> int:
    """Run worker passes until every lead is delivered, and return how many it took."""
    for passes in range(1, MAX_PASSES + 1):
        worker.run_once(pool)
        if set(store.counts()) == {"delivered"}:
            return passes
        clock.advance(BACKOFF_MAX)
    raise AssertionError(f"leads still not delivered after {MAX_PASSES} passes: {store.counts()}")


@pytest.mark.parametrize("threads", [0, 3], ids=["sequential", "pool"])
def test_outage_then_recovery_delivers_once(store, make_deliverer, make_worker, clock, pb, threads):
    phoneburner = OutageThenRecovery(OUTAGE_CALLS)
    pb.add_callback(responses.GET, PB_URL, callback=phoneburner)
    worker = make_worker(make_deliverer(backoff_initial=1, backoff_max=BACKOFF_MAX), concurrency=3)
    emails = {}
    for number in range(LEADS):
        row = lead_row(email=f"outage-{number}@example.com")
        store.accept(row, None, key_ttl=3600, now=clock())
        emails[row["id"]] = f"outage-{number}@example.com"

    if threads:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            run_until_settled(store, worker, clock, pool)
    else:
        run_until_settled(store, worker, clock)

    assert store.counts() == {"delivered": LEADS}
    assert phoneburner.successes == Counter(emails.values())
    assert sum(phoneburner.calls.values()) == OUTAGE_CALLS + LEADS
    for lead_id, email in emails.items():
        attempts = store.attempts_of(lead_id)
        assert len(attempts) == phoneburner.calls[email]
        assert [attempt["reply_class"] for attempt in attempts][-1] == "delivered"
        assert store.get(lead_id)["attempts"] == len(attempts)


def test_run_once_survives_store_failure(store, make_deliverer, make_worker, pb, monkeypatch):
    def fail(*args, **kwargs):
        raise StoreUnavailable("the store failed: OperationalError")

    monkeypatch.setattr(Store, "claim_due", fail)

    assert make_worker(make_deliverer()).run_once() == 0
    assert len(pb.calls) == 0


def test_unrecorded_attempt_retried_after_lease(store, make_deliverer, make_worker, clock, pb, monkeypatch, caplog):
    pb.get(PB_URL, body=SUCCESS)
    pb.get(PB_URL, body="ERROR|DUPLICATE EMAIL")
    row = lead_row()
    store.accept(row, None, key_ttl=3600, now=clock())
    worker = make_worker(make_deliverer())
    record_attempt = Store.record_attempt
    monkeypatch.setattr(delivery, "RECORD_RETRY_PAUSES", (0.0, 0.0))
    # Each try to record the attempt fails.
    failures = [StoreUnavailable("the store failed: OperationalError") for _ in range(3)]

    def fail_once(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        return record_attempt(self, *args, **kwargs)

    monkeypatch.setattr(Store, "record_attempt", fail_once)

    # The first call reached PhoneBurner but its result was lost; the lease keeps other workers off.
    assert worker.run_once() == 1
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("lead.attempt_record_retried") == 2
    assert "lead.attempt_not_recorded" in messages
    assert "lead.claim_lost" not in messages
    assert store.get(row["id"])["lease_until"] == clock() + LONG_LEASE
    assert worker.run_once() == 0

    clock.advance(LONG_LEASE + 1)
    assert worker.run_once() == 1

    lead = store.get(row["id"])
    assert lead["status"] == "delivered"
    assert lead["last_reason"] == "DUPLICATE EMAIL"
    assert len(pb.calls) == 2


def test_attempt_recorded_on_second_try(store, make_deliverer, make_worker, clock, pb, monkeypatch, caplog):
    pb.get(PB_URL, body=SUCCESS)
    row = lead_row()
    store.accept(row, None, key_ttl=3600, now=clock())
    worker = make_worker(make_deliverer())
    record_attempt = Store.record_attempt
    monkeypatch.setattr(delivery, "RECORD_RETRY_PAUSES", (0.0, 0.0))
    tries = []

    def commit_then_fail(self, *args, **kwargs):
        # The first try is stored but reports a failure, as when the connection breaks during COMMIT.
        tries.append(kwargs.get("again"))
        stored = record_attempt(self, *args, **kwargs)
        if len(tries) == 1:
            raise StoreUnavailable("the store failed: OperationalError")
        return stored

    monkeypatch.setattr(Store, "record_attempt", commit_then_fail)

    assert worker.run_once() == 1

    lead = store.get(row["id"])
    assert tries == [False, True]
    # The second try found the first one's attempt instead of failing.
    assert "worker.attempt_failed" not in caplog.messages
    assert lead["status"] == "delivered"
    assert lead["lease_until"] is None
    assert len(store.attempts_of(row["id"])) == 1
    assert len(pb.calls) == 1


def test_store_outage_logged_once_per_minute(caplog):
    from app.store.repository import StoreUnavailable
    from app.worker import STORE_FAILURE_LOG_EVERY, Worker

    class DownStore:
        def claim_due(self, **kwargs):
            raise StoreUnavailable("the store failed: OperationalError: unable to open database file")

    worker = Worker(DownStore(), deliverer=None, lease=60, concurrency=1, poll_interval=1)

    for _ in range(STORE_FAILURE_LOG_EVERY + 1):
        assert worker.run_once() == 0

    lines = [record for record in caplog.records if record.getMessage() == "store.unavailable"]
    assert [record.failures for record in lines] == [1, STORE_FAILURE_LOG_EVERY + 1]
