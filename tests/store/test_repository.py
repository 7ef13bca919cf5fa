"""Store: accepting leads once, claims with leases and fencing tokens, holds, requeue and purge."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from time import sleep as time_sleep

import pytest

from app.store import engine as engine_module
from app.store.engine import make_engine, migrate
from app.store.repository import Claim, Store, StoreUnavailable
from tests.store.helpers import START, attempt_record, lead_row, new_id
from tests.store.processes import accept_with_key, run_in_processes

KEY = "key:landing:0123456789abcdef"
TTL = 3600.0


def test_accept_inserts_lead(store):
    row = lead_row()

    accepted = store.accept(row, KEY, key_ttl=TTL, now=START)

    assert accepted.lead_id == row["id"]
    assert accepted.repeat is False
    stored = store.get(row["id"])
    assert stored["status"] == "queued"
    assert stored["raw_body"] == row["raw_body"]
    assert store.counts() == {"queued": 1}


def test_accept_without_key_always_inserts(store):
    first, second = lead_row(), lead_row()

    assert store.accept(first, None, key_ttl=TTL, now=START).repeat is False
    assert store.accept(second, None, key_ttl=TTL, now=START).repeat is False

    assert store.counts() == {"queued": 2}


def test_accept_repeat_returns_first_id(store):
    first, second = lead_row(), lead_row()
    store.accept(first, KEY, key_ttl=TTL, now=START)

    accepted = store.accept(second, KEY, key_ttl=TTL, now=START + 10)

    assert accepted.lead_id == first["id"]
    assert accepted.repeat is True
    assert store.get(second["id"]) is None
    assert store.counts() == {"queued": 1}


def test_accept_key_valid_until_expiry(store):
    first = lead_row()
    store.accept(first, KEY, key_ttl=TTL, now=START)

    # A key expires only once `now` passes expires_at.
    accepted = store.accept(lead_row(), KEY, key_ttl=TTL, now=START + TTL)

    assert accepted == type(accepted)(lead_id=first["id"], repeat=True)


def test_accept_expired_key_renewed(store):
    first, second, third = lead_row(), lead_row(), lead_row()
    store.accept(first, KEY, key_ttl=TTL, now=START)

    renewed = store.accept(second, KEY, key_ttl=TTL, now=START + TTL + 1)
    repeat = store.accept(third, KEY, key_ttl=TTL, now=START + TTL + 2)

    assert renewed.repeat is False
    assert renewed.lead_id == second["id"]
    assert repeat.repeat is True
    assert repeat.lead_id == second["id"]
    assert store.counts() == {"queued": 2}


def test_accept_concurrent_threads_insert_once(store):
    rows = [lead_row() for _ in range(10)]
    barrier = threading.Barrier(len(rows))

    def accept(row):
        barrier.wait(timeout=30)
        return store.accept(row, KEY, key_ttl=TTL, now=time.time())

    with ThreadPoolExecutor(max_workers=len(rows)) as pool:
        outcomes = list(pool.map(accept, rows))

    inserted = [outcome for outcome in outcomes if not outcome.repeat]
    assert len(inserted) == 1
    assert {outcome.lead_id for outcome in outcomes} == {inserted[0].lead_id}
    assert store.counts() == {"queued": 1}


def test_accept_concurrent_processes_insert_once(store_url, store):
    id_lists = [[new_id() for _ in range(5)] for _ in range(4)]

    outputs = run_in_processes(accept_with_key, [(store_url, KEY, ids) for ids in id_lists])

    outcomes = [outcome for output in outputs for outcome in output]
    assert len(outcomes) == 20
    inserted = [own_id for own_id, _, repeat in outcomes if not repeat]
    assert len(inserted) == 1
    assert {accepted_id for _, accepted_id, _ in outcomes} == set(inserted)
    assert store.counts() == {"queued": 1}
    assert store.get(inserted[0]) is not None


def test_save_answer_keeps_first(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)

    store.save_answer(row["id"], 201, {"status": "delivered"})
    store.save_answer(row["id"], 202, {"status": "queued"})

    stored = store.get(row["id"])
    assert stored["answer_status"] == 201
    assert stored["answer_body"] == '{"status": "delivered"}'


def test_claim_due_bumps_token(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)

    claims = store.claim_due(now=START, lease=30, limit=10)

    assert claims == [Claim(lead_id=row["id"], token=1, was_abandoned=False)]
    stored = store.get(row["id"])
    assert stored["claim_token"] == 1
    assert stored["lease_until"] == START + 30


def test_claim_due_skips_leased(store):
    store.accept(lead_row(), None, key_ttl=TTL, now=START)
    store.claim_due(now=START, lease=30, limit=10)

    assert store.claim_due(now=START + 29, lease=30, limit=10) == []


def test_claim_due_takes_over_expired_lease(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    store.claim_due(now=START, lease=30, limit=10)

    claims = store.claim_due(now=START + 31, lease=30, limit=10)

    assert claims == [Claim(lead_id=row["id"], token=2, was_abandoned=True)]


def test_claim_after_attempt_not_abandoned(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    [claim] = store.claim_due(now=START, lease=30, limit=10)
    changes = {"status": "queued", "attempts": 1, "next_attempt_at": START + 5}
    store.record_attempt(claim, attempt_record(1, now=START, reply_class="unreachable"), changes)

    claims = store.claim_due(now=START + 5, lease=30, limit=10)

    assert claims == [Claim(lead_id=row["id"], token=2, was_abandoned=False)]


def test_claim_due_skips_not_yet_due(store):
    row = lead_row(next_attempt_at=START + 100)
    store.accept(row, None, key_ttl=TTL, now=START)

    assert store.claim_due(now=START + 99, lease=30, limit=10) == []
    assert [claim.lead_id for claim in store.claim_due(now=START + 100, lease=30, limit=10)] == [row["id"]]


@pytest.mark.parametrize("status", ["delivered", "duplicate", "rejected", "dead"])
def test_claim_due_skips_final_status(store, status):
    store.accept(lead_row(status=status), None, key_ttl=TTL, now=START)

    assert store.claim_due(now=START + 1000, lease=30, limit=10) == []


def test_claim_due_takes_failed(store):
    row = lead_row(status="failed")
    store.accept(row, None, key_ttl=TTL, now=START)

    assert [claim.lead_id for claim in store.claim_due(now=START, lease=30, limit=10)] == [row["id"]]


def test_claim_due_skips_unscheduled(store):
    store.accept(lead_row(next_attempt_at=None), None, key_ttl=TTL, now=START)

    assert store.claim_due(now=START + 1000, lease=30, limit=10) == []


def test_claim_due_skips_held_customer(store):
    acme = lead_row(customer="acme")
    globex = lead_row(customer="globex", leadstream="main")
    store.accept(acme, None, key_ttl=TTL, now=START)
    store.accept(globex, None, key_ttl=TTL, now=START)
    store.hold("acme", "UNKNOWN USER", now=START)

    claims = store.claim_due(now=START, lease=30, limit=10)

    assert [claim.lead_id for claim in claims] == [globex["id"]]
    assert store.get(acme["id"])["claim_token"] == 0


def test_claim_due_oldest_first_up_to_limit(store):
    rows = [lead_row(next_attempt_at=START - offset) for offset in (1, 5, 3, 4, 2)]
    for row in rows:
        store.accept(row, None, key_ttl=TTL, now=START)

    claims = store.claim_due(now=START, lease=30, limit=2)

    assert [claim.lead_id for claim in claims] == [rows[1]["id"], rows[3]["id"]]


def test_record_attempt_applies_changes(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    [claim] = store.claim_due(now=START, lease=30, limit=10)

    stored = store.record_attempt(claim, attempt_record(1, now=START), {"status": "delivered", "attempts": 1})

    assert stored is True
    lead = store.get(row["id"])
    assert lead["status"] == "delivered"
    assert lead["attempts"] == 1
    assert lead["lease_until"] is None
    assert [attempt["claim_token"] for attempt in store.attempts_of(row["id"])] == [1]


def test_record_attempt_again_stores_once(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    [claim] = store.claim_due(now=START, lease=30, limit=10)
    changes = {"status": "delivered", "attempts": 1}
    store.record_attempt(claim, attempt_record(1, now=START), changes)

    # A second try after a commit that was reported failed but stored finds the first try's attempt.
    stored = store.record_attempt(claim, attempt_record(1, now=START), changes, again=True)

    assert stored is True
    assert len(store.attempts_of(row["id"])) == 1


def test_record_attempt_again_inserts_missing(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    [claim] = store.claim_due(now=START, lease=30, limit=10)

    changes = {"status": "delivered", "attempts": 1}

    stored = store.record_attempt(claim, attempt_record(1, now=START), changes, again=True)

    assert stored is True
    assert [attempt["number"] for attempt in store.attempts_of(row["id"])] == [1]


def test_record_attempt_stale_token_changes_nothing(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    [stale] = store.claim_due(now=START, lease=30, limit=10)
    [current] = store.claim_due(now=START + 31, lease=30, limit=10)
    before = store.get(row["id"])

    stored = store.record_attempt(stale, attempt_record(1, now=START + 40), {"status": "delivered", "attempts": 1})

    assert stored is False
    assert store.get(row["id"]) == before
    assert before["claim_token"] == current.token
    assert before["lease_until"] == START + 61
    # The stale call did reach PhoneBurner, so its attempt stays in the history under its own token.
    assert [attempt["claim_token"] for attempt in store.attempts_of(row["id"])] == [stale.token]


def test_release_stale_token_changes_nothing(store):
    row = lead_row()
    store.accept(row, None, key_ttl=TTL, now=START)
    [stale] = store.claim_due(now=START, lease=30, limit=10)
    store.claim_due(now=START + 31, lease=30, limit=10)
    before = store.get(row["id"])

    assert store.release(stale, {"status": "failed"}) is False
    assert store.get(row["id"]) == before


def test_hold_twice_reports_first(store):
    assert store.hold("acme", "UNKNOWN USER", now=START) is True
    assert store.hold("acme", "CANCELLED USER", now=START + 1) is False

    assert store.holds() == {"acme": {"customer": "acme", "reason": "UNKNOWN USER", "held_at": START}}


def test_resume_requeues_config_faults_only(store):
    fault = lead_row(status="failed", last_class="config_fault", next_attempt_at=None)
    unrecognized = lead_row(status="failed", last_class="unrecognized", next_attempt_at=None)
    other_customer = lead_row(
        customer="globex", leadstream="main", status="failed", last_class="config_fault", next_attempt_at=None
    )
    for row in (fault, unrecognized, other_customer):
        store.accept(row, None, key_ttl=TTL, now=START)
    store.hold("acme", "UNKNOWN USER", now=START)

    assert store.resume("acme", now=START + 60) == (True, 1)

    assert store.holds() == {}
    requeued = store.get(fault["id"])
    assert requeued["status"] == "queued"
    assert requeued["next_attempt_at"] == START + 60
    assert store.get(unrecognized["id"])["status"] == "failed"
    assert store.get(other_customer["id"])["status"] == "failed"


def test_held_customers_own_changes_at_once(store):
    assert store.held_customers(max_age=3600) == frozenset()

    store.hold("acme", "UNKNOWN USER", now=START)
    assert store.held_customers(max_age=3600) == {"acme"}

    store.resume("acme", now=START + 60)
    assert store.held_customers(max_age=3600) == frozenset()


def test_held_customers_cached_across_processes(store):
    other_process = Store(store.engine)
    assert store.held_customers(max_age=0.2) == frozenset()

    other_process.hold("acme", "UNKNOWN USER", now=START)

    # Within max_age the cached set is returned, and after it the store is read again.
    assert store.held_customers(max_age=0.2) == frozenset()
    time.sleep(0.25)
    assert store.held_customers(max_age=0.2) == {"acme"}


def test_resume_without_hold(store):
    assert store.resume("acme", now=START) == (False, 0)


def test_requeue_failed_and_dead_only(store):
    rows = {
        status: lead_row(status=status, attempts=7, next_attempt_at=None)
        for status in ("failed", "dead", "delivered", "duplicate", "rejected", "queued")
    }
    for row in rows.values():
        store.accept(row, None, key_ttl=TTL, now=START)

    requeued = store.requeue([row["id"] for row in rows.values()], now=START + 60)

    assert sorted(requeued) == sorted([rows["failed"]["id"], rows["dead"]["id"]])
    for status in ("failed", "dead"):
        lead = store.get(rows[status]["id"])
        assert lead["status"] == "queued"
        assert lead["attempts"] == 0
        assert lead["next_attempt_at"] == START + 60
    for status in ("delivered", "duplicate", "rejected", "queued"):
        assert store.get(rows[status]["id"])["status"] == status
        assert store.get(rows[status]["id"])["attempts"] == 7


def test_purge_deletes_old_leads(store):
    now = time.time()
    old = lead_row(now=now - 100)
    new = lead_row(now=now)
    store.accept(old, "key:old", key_ttl=TTL, now=now - 100)
    store.accept(new, "key:new", key_ttl=TTL, now=now)
    [claim] = store.claim_due(now=now - 100, lease=30, limit=1)
    store.record_attempt(claim, attempt_record(1, now=now - 100), {"status": "delivered"})

    assert store.purge(before=now - 50) == 1

    assert store.get(old["id"]) is None
    assert store.attempts_of(old["id"]) == []
    assert store.get(new["id"]) is not None
    # The purged lead's key is gone, so it now names a new lead. The kept lead's key still repeats.
    assert store.accept(lead_row(), "key:old", key_ttl=TTL, now=now).repeat is False
    assert store.accept(lead_row(), "key:new", key_ttl=TTL, now=now).lead_id == new["id"]


def test_purge_drops_expired_keys(store):
    now = time.time()
    row = lead_row(now=now)
    store.accept(row, KEY, key_ttl=1, now=now - 10)

    store.purge(before=now - 1000)

    assert store.get(row["id"]) is not None
    replacement = lead_row(now=now)
    assert store.accept(replacement, KEY, key_ttl=TTL, now=now - 10).lead_id == replacement["id"]


@pytest.mark.parametrize("status", ["queued", "failed"])
def test_purge_keeps_unfinished_leads(store, status):
    now = time.time()
    row = lead_row(now=now - 100, status=status)
    store.accept(row, None, key_ttl=TTL, now=now - 100)

    assert store.purge(before=now) == 0
    assert store.get(row["id"]) is not None
    assert store.counts_created_before(now) == {}


def test_writer_waits_for_lock_in_sleeps(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    migrate(engine)
    store = Store(engine)
    holder = sqlite3.connect(tmp_path / "relay.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, holder.execute, ["COMMIT"]).start()
    # The wait must be time.sleep, which gevent makes yield to the worker's other requests.
    pauses = []
    monkeypatch.setattr(engine_module.time, "sleep", lambda seconds: pauses.append(seconds) or time_sleep(seconds))

    started = time.monotonic()
    accepted = store.accept(lead_row(), KEY, key_ttl=TTL, now=START)

    assert accepted.repeat is False
    assert time.monotonic() - started >= 0.25
    assert sum(pauses) >= 0.25
    assert max(pauses) <= engine_module.LOCK_RETRY_MAX


def test_writer_gives_up_after_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    migrate(engine)
    store = Store(engine)
    holder = sqlite3.connect(tmp_path / "relay.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    with pytest.raises(StoreUnavailable, match="locked"):
        store.accept(lead_row(), KEY, key_ttl=TTL, now=START)

    holder.execute("ROLLBACK")
    # The connection that gave up keeps SQLite's busy timeout for its later statements.
    assert store.accept(lead_row(), KEY, key_ttl=TTL, now=START).repeat is False
