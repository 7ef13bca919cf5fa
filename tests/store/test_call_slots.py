"""Attempts without a free call slot: nothing is sent, and the lead stays due for the worker."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from types import SimpleNamespace

from tests.conftest import PB_URL, SUCCESS, auth, build_app
from tests.store.helpers import LONG_LEASE, START, lead_row

TTL = 3600.0


def claimed_lead(store, clock):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    [claim] = store.claim_due(now=clock(), lease=LONG_LEASE, limit=10)
    return claim, store.get(claim.lead_id)


def test_worker_attempt_deferred_without_slot(store, make_deliverer, clock, pb):
    pb.get(PB_URL, body=SUCCESS)
    deliverer = make_deliverer()
    claim, row = claimed_lead(store, clock)

    with ExitStack() as busy:
        for _ in range(deliverer.slots.limit):
            busy.enter_context(deliverer.slots.hold(wait=0))
        result = deliverer.attempt(claim, row, slot_wait=0)

    assert result.deferred is True
    assert result.stored is True
    assert len(pb.calls) == 0
    lead = store.get(row["id"])
    assert lead["status"] == "queued"
    assert lead["attempts"] == 0
    assert lead["lease_until"] is None
    assert lead["next_attempt_at"] == clock()
    assert store.attempts_of(row["id"]) == []
    assert [claim.lead_id for claim in store.claim_due(now=clock(), lease=LONG_LEASE, limit=10)] == [row["id"]]


def test_attempt_with_slot_sends(store, make_deliverer, clock, pb):
    pb.get(PB_URL, body=SUCCESS)
    deliverer = make_deliverer()
    claim, row = claimed_lead(store, clock)

    result = deliverer.attempt(claim, row, slot_wait=0)

    assert result.deferred is False
    assert len(pb.calls) == 1
    assert store.get(row["id"])["status"] == "delivered"


def test_slot_wait_comes_off_read_timeout(store, make_deliverer, clock, pb, monkeypatch):
    pb.get(PB_URL, body=SUCCESS)
    deliverer = make_deliverer()
    claim, row = claimed_lead(store, clock)
    readings = iter([100.0, 101.5])
    monkeypatch.setattr("app.delivery.time", SimpleNamespace(monotonic=lambda: next(readings), time=time.time))

    deliverer.attempt(claim, row, timeout=(1.0, 4.0), slot_wait=3.0)

    assert pb.calls[0].request.req_kwargs["timeout"] == (1.0, 2.5)


def test_inline_attempt_without_slot_queues(document, pb):
    document["phoneburner"]["max_concurrent"] = 1
    # A 3 s budget leaves a read timeout under 2 s, so the second request does not wait for the slot at all.
    document["delivery"] = {"inline_budget": 3}
    calling, release = threading.Event(), threading.Event()

    def slow_reply(request):
        calling.set()
        release.wait(timeout=30)
        return 200, {}, SUCCESS

    pb.add_callback("GET", PB_URL, callback=slow_reply)
    app = build_app(document)

    def send(email):
        return app.test_client().post("/v1/leads/landing", data={"email": email}, headers=auth())

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(send, "first@example.com")
        assert calling.wait(timeout=30)
        second = send("second@example.com")
        release.set()
        first = first.result(timeout=30)

    assert first.status_code == 201
    assert second.status_code == 202
    answer = second.get_json()
    assert answer["status"] == "queued"
    assert answer["reason"] == "concurrency_limit"
    assert len(pb.calls) == 1
    lead = app.extensions["relay"].store.get(answer["lead_id"])
    assert lead["status"] == "queued"
    assert lead["attempts"] == 0
    assert lead["lease_until"] is None
    assert app.extensions["relay"].breaker.allow() is True
