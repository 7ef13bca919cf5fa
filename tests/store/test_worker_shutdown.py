"""Worker.run and stop(): attempts in flight finish within the grace, or give their leads back at once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from app.store.repository import Claim
from tests.conftest import PB_URL, SUCCESS
from tests.store.helpers import LONG_LEASE, lead_row

# Bound on every wait for a thread or a condition, in seconds.
WAIT = 10


class GatedPhoneBurner:
    """A put_contact callback that blocks each request (or those for `gated` emails) until the gate opens."""

    def __init__(self, body: str = SUCCESS) -> None:
        self.body = body
        self.gate = threading.Event()
        self.gated: set[str] | None = None
        self.calls = Counter()
        self.arrived = threading.Semaphore(0)
        self.lock = threading.Lock()

    def __call__(self, request):
        email = parse_qs(urlsplit(request.url).query)["email"][0]
        with self.lock:
            self.calls[email] += 1
            reply = self.body if self.calls[email] == 1 else "ERROR|DUPLICATE EMAIL"
        self.arrived.release()
        if self.gated is None or email in self.gated:
            self.gate.wait(WAIT)
        return 200, {}, reply

    def wait_for_requests(self, count: int) -> None:
        for _ in range(count):
            assert self.arrived.acquire(timeout=WAIT), "PhoneBurner did not get the expected requests"


class RunningWorker:
    """A Worker.run() on a thread of its own; join() returns the claims it abandoned."""

    def __init__(self, worker) -> None:
        self.worker = worker
        self.abandoned: list[Claim] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.abandoned = self.worker.run()

    def join(self) -> list[Claim]:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), f"the worker did not stop within {WAIT} s"
        return self.abandoned


@pytest.fixture
def phoneburner(pb):
    gated = GatedPhoneBurner()
    pb.add_callback(responses.GET, PB_URL, callback=gated)
    yield gated
    # Free any attempt still waiting, so that no thread outlives the test.
    gated.gate.set()


@pytest.fixture
def start_worker(phoneburner):
    """Start Worker.run() on a thread; a test that fails before stopping it still stops it."""
    started: list[RunningWorker] = []

    def start(worker) -> RunningWorker:
        started.append(RunningWorker(worker))
        return started[-1]

    yield start
    phoneburner.gate.set()
    for running in started:
        # Twice: the second call ends the grace at once.
        running.worker.stop()
        running.worker.stop()
        running.thread.join(WAIT)


def wait_for_attempts(store, lead_id: str, count: int) -> None:
    """Wait until the lead has `count` recorded attempts, so no thread still uses the store when the test ends."""
    deadline = time.monotonic() + WAIT
    while len(store.attempts_of(lead_id)) < count:
        assert time.monotonic() < deadline, f"lead {lead_id} did not reach {count} recorded attempts"
        time.sleep(0.02)


def queue_leads(store, clock, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        row = lead_row(now=clock())
        store.accept(row, None, key_ttl=3600, now=clock())
        ids.append(row["id"])
    return ids


def test_stop_lets_attempts_finish(store, make_deliverer, make_worker, clock, phoneburner, start_worker):
    ids = queue_leads(store, clock, 3)
    worker = make_worker(make_deliverer(), concurrency=3)
    worker.shutdown_grace = WAIT
    running = start_worker(worker)
    phoneburner.wait_for_requests(3)

    worker.stop()
    phoneburner.gate.set()
    abandoned = running.join()

    assert abandoned == []
    for lead_id in ids:
        lead = store.get(lead_id)
        assert lead["status"] == "delivered"
        assert lead["lease_until"] is None
    assert set(phoneburner.calls.values()) == {1}


def test_stop_claims_nothing_more(store, make_deliverer, make_worker, clock, phoneburner, start_worker):
    ids = queue_leads(store, clock, 3)
    worker = make_worker(make_deliverer(), concurrency=1)
    worker.shutdown_grace = WAIT
    running = start_worker(worker)
    phoneburner.wait_for_requests(1)

    worker.stop()
    phoneburner.gate.set()
    running.join()

    statuses = Counter(store.get(lead_id)["status"] for lead_id in ids)
    assert statuses == {"delivered": 1, "queued": 2}
    assert all(store.get(lead_id)["lease_until"] is None for lead_id in ids)
    assert sum(phoneburner.calls.values()) == 1


def test_grace_over_gives_claims_back(store, make_deliverer, make_worker, clock, phoneburner, start_worker):
    [lead_id] = queue_leads(store, clock, 1)
    worker = make_worker(make_deliverer())
    running = start_worker(worker)
    phoneburner.wait_for_requests(1)

    worker.stop()
    abandoned = running.join()

    assert [claim.lead_id for claim in abandoned] == [lead_id]
    lead = store.get(lead_id)
    assert lead["status"] == "queued"
    assert lead["lease_until"] == clock()

    # Another worker takes the lead over at once, as ambiguous: the abandoned call reached PhoneBurner.
    clock.advance(0.001)
    [claim] = store.claim_due(now=clock(), lease=LONG_LEASE, limit=1)
    assert claim.was_abandoned
    phoneburner.gate.set()
    make_worker(make_deliverer()).deliverer.attempt(claim, store.get(lead_id))
    # The abandoned attempt ends too; its late result no longer matches the lead's claim.
    wait_for_attempts(store, lead_id, 2)

    lead = store.get(lead_id)
    assert lead["status"] == "delivered"
    assert lead["last_reason"] == "DUPLICATE EMAIL"
    assert lead["claim_token"] == claim.token


def test_second_stop_ends_grace(store, make_deliverer, make_worker, clock, phoneburner, start_worker):
    [lead_id] = queue_leads(store, clock, 1)
    worker = make_worker(make_deliverer())
    worker.shutdown_grace = 3600
    running = start_worker(worker)
    phoneburner.wait_for_requests(1)

    worker.stop()
    worker.stop()

    assert len(running.join()) == 1
    phoneburner.gate.set()
    wait_for_attempts(store, lead_id, 1)


def test_abandon_after_record_changes_nothing(store, clock):
    row = lead_row(now=clock())
    store.accept(row, None, key_ttl=3600, now=clock())
    [claim] = store.claim_due(now=clock(), lease=LONG_LEASE, limit=1)
    store.release(claim, {"status": "delivered"})

    assert store.abandon(claim, now=clock()) is False
    assert store.get(row["id"])["lease_until"] is None


def test_abandon_after_takeover_changes_nothing(store, clock):
    row = lead_row(now=clock())
    store.accept(row, None, key_ttl=3600, now=clock())
    [stale] = store.claim_due(now=clock(), lease=60, limit=1)
    clock.advance(61)
    [current] = store.claim_due(now=clock(), lease=60, limit=1)

    assert store.abandon(stale, now=clock()) is False
    assert store.get(row["id"])["lease_until"] == clock() + 60
    assert store.abandon(current, now=clock()) is True


def test_free_thread_claims_while_others_busy(store, make_deliverer, make_worker, clock, phoneburner, start_worker):
    # Due first, so that the first claim takes it.
    slow_row = lead_row(now=clock() - 1)
    store.accept(slow_row, None, key_ttl=3600, now=clock())
    slow = slow_row["id"]
    fast = queue_leads(store, clock, 3)
    phoneburner.gated = {json.loads(store.get(slow)["lead"])["email"]}
    worker = make_worker(make_deliverer(), concurrency=2)
    worker.shutdown_grace = WAIT
    running = start_worker(worker)

    # One thread waits on the slow lead while the other delivers the rest, one claim after another.
    deadline = time.monotonic() + WAIT
    while any(store.get(lead_id)["status"] != "delivered" for lead_id in fast):
        assert time.monotonic() < deadline, "the free thread did not deliver the other leads"
        time.sleep(0.02)
    assert store.get(slow)["status"] == "queued"

    phoneburner.gate.set()
    worker.stop()
    running.join()

    assert store.get(slow)["status"] == "delivered"
