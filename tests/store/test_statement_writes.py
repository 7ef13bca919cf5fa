"""PostgreSQL's single-statement writes: each one is idempotent, so running it again after a commit changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.store.engine import make_engine
from app.store.repository import Claim, Store
from app.store.statement_writes import StatementWrites
from app.store.tables import attempts, idempotency_keys, leads
from tests.store.helpers import START, attempt_record, lead_row
from tests.stores import fresh_store_url

KEY = "landing:request-1"


@pytest.fixture
def engine():
    engine = make_engine(fresh_store_url("postgresql"))
    yield engine
    engine.dispose()


@pytest.fixture
def writes(engine) -> StatementWrites:
    return StatementWrites(engine)


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_accept_twice_stores_once(engine, writes):
    row = lead_row()

    assert writes.accept(row, KEY, expires_at=START + 60, now=START) is True
    assert writes.accept(row, KEY, expires_at=START + 60, now=START) is True

    assert count(engine, leads) == 1
    assert count(engine, idempotency_keys) == 1


def test_accept_without_key_twice_stores_once(engine, writes):
    row = lead_row()

    assert writes.accept(row, None, expires_at=START + 60, now=START) is True
    assert writes.accept(row, None, expires_at=START + 60, now=START) is True

    assert count(engine, leads) == 1


def test_live_key_of_other_lead_rejected(engine, writes):
    writes.accept(lead_row(), KEY, expires_at=START + 60, now=START)

    assert writes.accept(lead_row(), KEY, expires_at=START + 70, now=START + 10) is False
    assert count(engine, leads) == 1


def test_expired_key_goes_to_new_lead(engine, writes):
    writes.accept(lead_row(), KEY, expires_at=START + 60, now=START)
    second = lead_row(now=START + 61)

    assert writes.accept(second, KEY, expires_at=START + 121, now=START + 61) is True

    with engine.connect() as connection:
        owner = connection.execute(select(idempotency_keys.c.lead_id)).scalar_one()
    assert owner == second["id"]
    assert count(engine, leads) == 2


def test_record_attempt_twice_stores_once(engine, writes):
    row = lead_row(claim_token=1, lease_until=START + 60)
    writes.accept(row, KEY, expires_at=START + 60, now=START)
    changes = {"status": "delivered", "attempts": 1, "lease_until": None}

    assert writes.record_attempt(row["id"], 1, attempt_record(1, now=START), changes) is True
    assert writes.record_attempt(row["id"], 1, attempt_record(1, now=START), changes) is True

    assert count(engine, attempts) == 1
    with engine.connect() as connection:
        lead = connection.execute(select(leads).where(leads.c.id == row["id"])).one()
    assert lead.status == "delivered"
    assert lead.lease_until is None


def test_record_attempt_stale_claim_keeps_attempt(engine, writes):
    row = lead_row(claim_token=2)
    writes.accept(row, KEY, expires_at=START + 60, now=START)

    stored = writes.record_attempt(row["id"], 1, attempt_record(1, now=START), {"status": "delivered"})

    assert stored is False
    assert count(engine, attempts) == 1
    with engine.connect() as connection:
        assert connection.execute(select(leads.c.status)).scalar_one() == "queued"


def test_store_uses_statements_on_postgresql(engine):
    store = Store(engine)
    row = lead_row()

    accepted = store.accept(row, KEY, key_ttl=60, now=START)
    repeat = store.accept(lead_row(), KEY, key_ttl=60, now=START + 1)
    [claim] = store.claim_due(now=START, lease=30, limit=1)
    recorded = store.record_attempt(claim, attempt_record(1, now=START), {"status": "delivered", "attempts": 1})

    assert store._statements is not None
    assert accepted.repeat is False
    assert repeat.repeat is True
    assert repeat.lead_id == row["id"]
    assert recorded is True
    assert store.get(row["id"])["status"] == "delivered"
    assert claim == Claim(lead_id=row["id"], token=1, was_abandoned=False)
