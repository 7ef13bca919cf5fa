"""Deliverer: one attempt per claim, the retry schedule, holds on configuration faults, replays."""

from __future__ import annotations

import functools
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from app.retries import retry_delay
from tests.conftest import PB_URL, SUCCESS
from tests.store.helpers import LONG_LEASE, START, lead_row

TTL = 3600.0
UNAVAILABLE = {"status": 503, "body": "Service Unavailable"}
UNRECOGNIZED = "<html><body>maintenance</body></html>"


@pytest.fixture
def ceiling_jitter(monkeypatch):
    """Make every retry delay its ceiling, so the schedule is exact."""
    monkeypatch.setattr("app.delivery.retry_delay", functools.partial(retry_delay, uniform=lambda low, high: high))


def queue_lead(store, **columns) -> dict:
    row = lead_row(**columns)
    store.accept(row, None, key_ttl=TTL, now=START)
    return row


def attempt_due(store, deliverer, clock, *, lease: float = LONG_LEASE) -> list:
    """Claim every lead due at the clock's time and attempt each once."""
    claims = store.claim_due(now=clock(), lease=lease, limit=100)
    return [deliverer.attempt(claim, store.get(claim.lead_id)) for claim in claims]


def refused() -> requests.ConnectionError:
    return requests.ConnectionError(ConnectionRefusedError("connection refused"))


def user_id(url: str) -> str:
    return parse_qs(urlsplit(url).query)["user_id"][0]


def test_delivered_stores_attempt(store, make_deliverer, clock, pb):
    pb.get(PB_URL, body=SUCCESS)
    row = queue_lead(store)

    [result] = attempt_due(store, make_deliverer(), clock)

    assert result.stored is True
    lead = store.get(row["id"])
    assert lead["status"] == "delivered"
    assert lead["attempts"] == 1
    assert lead["lead_url"] == "https://www.phoneburner.com/ms/lead_redirect?upc=ATFHD3PP"
    assert lead["lease_until"] is None
    [attempt] = store.attempts_of(row["id"])
    assert attempt["reply_class"] == "delivered"
    assert attempt["number"] == 1
    assert "vendor-key-for-tests-0001" not in attempt["request_url"]


def test_success_url_with_nul_recorded(store, make_deliverer, clock, pb):
    # PostgreSQL rejects text with NUL. Storing this URL would fail, and the delivered lead would be sent again.
    pb.get(PB_URL, body="SUCCESS | https://www.phoneburner.com/ms/lead_redirect?upc=A\x00B")
    row = queue_lead(store)

    [result] = attempt_due(store, make_deliverer(), clock)

    assert result.stored is True
    lead = store.get(row["id"])
    assert lead["status"] == "delivered"
    assert lead["lead_url"] is None


def test_retry_schedule_grows_to_cap(store, make_deliverer, clock, pb, ceiling_jitter):
    pb.get(PB_URL, **UNAVAILABLE)
    deliverer = make_deliverer(backoff_initial=30, backoff_max=200, max_attempts=6)
    row = queue_lead(store)

    delays = []
    for _ in range(5):
        attempt_due(store, deliverer, clock)
        lead = store.get(row["id"])
        assert lead["status"] == "queued"
        delays.append(lead["next_attempt_at"] - clock())
        clock.set(lead["next_attempt_at"])

    assert delays == [30, 60, 120, 200, 200]


def test_retry_waits_until_due(store, make_deliverer, clock, pb, ceiling_jitter):
    pb.get(PB_URL, **UNAVAILABLE)
    deliverer = make_deliverer(backoff_initial=30)
    queue_lead(store)
    attempt_due(store, deliverer, clock)

    clock.advance(29)

    assert attempt_due(store, deliverer, clock) == []
    assert len(pb.calls) == 1


def test_retry_jitter_within_upper_half(store, make_deliverer, clock, pb):
    pb.get(PB_URL, **UNAVAILABLE)
    deliverer = make_deliverer(backoff_initial=100, backoff_max=100)
    rows = [queue_lead(store) for _ in range(20)]

    attempt_due(store, deliverer, clock)

    delays = [store.get(row["id"])["next_attempt_at"] - clock() for row in rows]
    assert all(50 <= delay <= 100 for delay in delays), delays


@pytest.mark.parametrize(("retry_after", "delay"), [("500", 500), ("5", 30)])
def test_retry_after_is_floor(store, make_deliverer, clock, pb, ceiling_jitter, retry_after, delay):
    pb.get(PB_URL, status=503, headers={"Retry-After": retry_after})
    row = queue_lead(store)

    attempt_due(store, make_deliverer(backoff_initial=30, backoff_max=200), clock)

    assert store.get(row["id"])["next_attempt_at"] - clock() == delay


def test_max_attempts_then_dead(store, make_deliverer, clock, pb, ceiling_jitter):
    pb.get(PB_URL, **UNAVAILABLE)
    deliverer = make_deliverer(backoff_initial=1, backoff_max=1, max_attempts=4)
    row = queue_lead(store)

    for _ in range(10):
        attempt_due(store, deliverer, clock)
        clock.advance(1)

    lead = store.get(row["id"])
    assert lead["status"] == "dead"
    assert lead["attempts"] == 4
    assert lead["next_attempt_at"] is None
    assert len(pb.calls) == 4
    assert [attempt["number"] for attempt in store.attempts_of(row["id"])] == [1, 2, 3, 4]


def test_unrecognized_retries_then_dead(store, make_deliverer, clock, pb, ceiling_jitter):
    pb.get(PB_URL, body=UNRECOGNIZED)
    deliverer = make_deliverer(backoff_initial=1, backoff_max=1, max_attempts=25, unrecognized_attempts=3)
    row = queue_lead(store)

    statuses = []
    for _ in range(10):
        if attempt_due(store, deliverer, clock):
            statuses.append(store.get(row["id"])["status"])
        clock.advance(1)

    assert statuses == ["failed", "failed", "dead"]
    assert store.get(row["id"])["last_class"] == "unrecognized"
    assert len(pb.calls) == 3


def test_ambiguous_then_duplicate_delivered(store, make_deliverer, clock, pb, ceiling_jitter):
    pb.get(PB_URL, body=requests.ReadTimeout("read timed out"))
    pb.get(PB_URL, body="ERROR|DUPLICATE EMAIL")
    deliverer = make_deliverer(backoff_initial=1)
    row = queue_lead(store)

    attempt_due(store, deliverer, clock)
    first = store.get(row["id"])
    clock.set(first["next_attempt_at"])
    attempt_due(store, deliverer, clock)

    assert first["status"] == "queued"
    assert first["ambiguous"] is True
    assert first["last_reason"] == "read_timeout"
    lead = store.get(row["id"])
    assert lead["status"] == "delivered"
    assert lead["last_reason"] == "DUPLICATE EMAIL"
    assert len(pb.calls) == 2


def test_duplicate_without_ambiguity(store, make_deliverer, clock, pb):
    pb.get(PB_URL, body="ERROR|DUPLICATE EMAIL")
    row = queue_lead(store)

    attempt_due(store, make_deliverer(), clock)

    lead = store.get(row["id"])
    assert lead["status"] == "duplicate"
    assert lead["ambiguous"] is False


def test_refused_then_duplicate_is_duplicate(store, make_deliverer, clock, pb, ceiling_jitter):
    # A refused connection never reached PhoneBurner, so PhoneBurner had the contact before this lead.
    pb.get(PB_URL, body=refused())
    pb.get(PB_URL, body="ERROR|DUPLICATE EMAIL")
    deliverer = make_deliverer(backoff_initial=1)
    row = queue_lead(store)

    attempt_due(store, deliverer, clock)
    clock.advance(1)
    attempt_due(store, deliverer, clock)

    assert store.get(row["id"])["status"] == "duplicate"
    assert len(pb.calls) == 2


def test_abandoned_claim_then_duplicate_delivered(store, make_deliverer, clock, pb):
    pb.get(PB_URL, body="ERROR|DUPLICATE EMAIL")
    row = queue_lead(store)
    # A worker claims the lead and dies, and its call may have reached PhoneBurner.
    store.claim_due(now=clock(), lease=30, limit=10)
    clock.advance(31)

    [claim] = store.claim_due(now=clock(), lease=30, limit=10)
    make_deliverer().attempt(claim, store.get(claim.lead_id))

    assert claim.was_abandoned is True
    lead = store.get(row["id"])
    assert lead["status"] == "delivered"
    assert lead["ambiguous"] is True


def test_stale_claim_attempt_not_applied(store, make_deliverer, clock, pb):
    pb.get(PB_URL, body=SUCCESS)
    row = queue_lead(store)
    [stale] = store.claim_due(now=clock(), lease=30, limit=10)
    clock.advance(31)
    [current] = store.claim_due(now=clock(), lease=30, limit=10)

    result = make_deliverer().attempt(stale, store.get(row["id"]))

    assert result.stored is False
    lead = store.get(row["id"])
    assert lead["status"] == "queued"
    assert lead["claim_token"] == current.token


def test_config_fault_holds_customer(store, make_deliverer, clock, pb):
    pb.add_callback(
        responses.GET,
        PB_URL,
        callback=lambda request: (200, {}, "FAILURE|UNKNOWN USER" if "user_id=123456" in request.url else SUCCESS),
    )
    acme = queue_lead(store)
    globex = queue_lead(store, customer="globex", leadstream="main")

    attempt_due(store, make_deliverer(), clock)

    failed = store.get(acme["id"])
    assert failed["status"] == "failed"
    assert failed["last_class"] == "config_fault"
    assert failed["next_attempt_at"] is None
    assert set(store.holds()) == {"acme"}
    assert store.holds()["acme"]["reason"] == "UNKNOWN USER"
    assert store.get(globex["id"])["status"] == "delivered"


def test_held_customer_waits_others_delivered(store, make_deliverer, make_worker, clock, pb):
    pb.get(PB_URL, body=SUCCESS)
    store.hold("acme", "UNKNOWN USER", now=clock())
    acme = queue_lead(store)
    globex = queue_lead(store, customer="globex", leadstream="main")

    attempted = make_worker(make_deliverer()).run_once()

    assert attempted == 1
    assert [user_id(call.request.url) for call in pb.calls] == ["654321"]
    assert store.get(acme["id"])["status"] == "queued"
    assert store.get(globex["id"])["status"] == "delivered"


def test_resume_then_worker_delivers(store, make_deliverer, make_worker, clock, pb):
    replies = {"123456": "FAILURE|UNKNOWN USER"}
    pb.add_callback(responses.GET, PB_URL, callback=lambda request: (200, {}, replies[user_id(request.url)]))
    worker = make_worker(make_deliverer())
    failed = queue_lead(store)
    worker.run_once()
    waiting = queue_lead(store)
    assert worker.run_once() == 0

    # The operator fixes the customer's configuration, then lifts the hold.
    replies["123456"] = SUCCESS
    assert store.resume("acme", now=clock()) == (True, 1)
    attempted = worker.run_once()

    assert attempted == 2
    assert store.get(failed["id"])["status"] == "delivered"
    assert store.get(waiting["id"])["status"] == "delivered"
    assert len(pb.calls) == 3


def test_requeue_delivered_sends_nothing(store, make_deliverer, make_worker, clock, pb):
    pb.get(PB_URL, body=SUCCESS)
    worker = make_worker(make_deliverer())
    row = queue_lead(store)
    worker.run_once()

    requeued = store.requeue([row["id"]], now=clock())

    assert requeued == []
    assert worker.run_once() == 0
    assert store.get(row["id"])["status"] == "delivered"
    assert len(pb.calls) == 1


def test_requeue_dead_lead_delivered(store, make_deliverer, make_worker, clock, pb):
    pb.get(PB_URL, **UNAVAILABLE)
    pb.get(PB_URL, body=SUCCESS)
    worker = make_worker(make_deliverer(max_attempts=1))
    row = queue_lead(store)
    worker.run_once()
    assert store.get(row["id"])["status"] == "dead"

    assert store.requeue([row["id"]], now=clock()) == [row["id"]]
    worker.run_once()

    lead = store.get(row["id"])
    assert lead["status"] == "delivered"
    assert lead["attempts"] == 1
    assert len(pb.calls) == 2


def test_unknown_destination_fails_without_call(store, make_deliverer, clock, pb):
    row = queue_lead(store, customer="initech")

    [result] = attempt_due(store, make_deliverer(), clock)

    assert result.reply is None
    assert result.stored is True
    lead = store.get(row["id"])
    assert lead["status"] == "failed"
    assert lead["last_reason"] == "unknown_destination"
    assert store.attempts_of(row["id"]) == []
    assert len(pb.calls) == 0
