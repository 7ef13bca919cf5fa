"""Prepared statements: compiled once per set of value names, run through the driver with SQLAlchemy's errors."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from app.store import prepared
from app.store.engine import make_engine, write_transaction
from app.store.prepared import Prepared
from app.store.tables import idempotency_keys

INSERT_KEY = insert(idempotency_keys)
KEY_OWNER = select(idempotency_keys.c.lead_id).where(idempotency_keys.c.key == bindparam("match_key"))
RENEW_KEY = update(idempotency_keys).where(idempotency_keys.c.key == bindparam("match_key"))


@pytest.fixture
def engine(store_url):
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def test_insert_and_select_run(engine):
    with write_transaction(engine) as connection:
        inserted = Prepared(INSERT_KEY).execute(
            connection, {"key": "k1", "lead_id": "lead-1", "expires_at": 10.0}, count_rows=True
        )
        owner = Prepared(KEY_OWNER).execute(connection, {"match_key": "k1"}).scalar_one()

    assert inserted.rowcount == 1
    assert owner == "lead-1"


def test_update_sets_only_named_columns(engine):
    with write_transaction(engine) as connection:
        Prepared(INSERT_KEY).execute(connection, {"key": "k1", "lead_id": "lead-1", "expires_at": 10.0})
        updated = Prepared(RENEW_KEY).execute(connection, {"match_key": "k1", "expires_at": 20.0})
        row = connection.execute(select(idempotency_keys)).one()

    assert updated.rowcount == 1
    assert row.lead_id == "lead-1"
    assert row.expires_at == 20.0


def test_statement_compiled_once_per_value_names(engine):
    statement = Prepared(RENEW_KEY)
    with write_transaction(engine) as connection:
        for number in range(3):
            statement.execute(connection, {"match_key": f"k{number}", "expires_at": 1.0})
        statement.execute(connection, {"match_key": "k", "lead_id": "lead-2"})

    assert len(statement._forms) == 2


def test_forms_past_limit_still_run(engine, monkeypatch):
    monkeypatch.setattr(prepared, "MAX_FORMS", 1)
    statement = Prepared(RENEW_KEY)
    with write_transaction(engine) as connection:
        Prepared(INSERT_KEY).execute(connection, {"key": "k1", "lead_id": "lead-1", "expires_at": 1.0})
        statement.execute(connection, {"match_key": "k1", "expires_at": 2.0})
        renewed = statement.execute(connection, {"match_key": "k1", "lead_id": "lead-2"})

    assert renewed.rowcount == 1
    assert len(statement._forms) == 1


def test_values_get_type_processing(engine):
    with write_transaction(engine) as connection:
        # An int for a Float column is stored as a float, as Connection.execute would store it.
        Prepared(INSERT_KEY).execute(connection, {"key": "k1", "lead_id": "lead-1", "expires_at": 7})
        stored = connection.execute(select(idempotency_keys.c.expires_at)).scalar_one()

    assert isinstance(stored, float)


def test_statement_keeps_own_values(engine):
    first_key = Prepared(select(idempotency_keys.c.key).order_by(idempotency_keys.c.key).limit(1))
    with write_transaction(engine) as connection:
        for key in ("b", "a", "c"):
            Prepared(INSERT_KEY).execute(connection, {"key": key, "lead_id": "lead-1", "expires_at": 1.0})

        assert first_key.execute(connection, {}).scalars().all() == ["a"]


def test_missing_value_names_parameter(engine):
    with write_transaction(engine) as connection, pytest.raises(ValueError, match="match_key"):
        Prepared(KEY_OWNER).execute(connection, {"key": "k1"})


def test_driver_error_raised_as_sqlalchemy_error(engine):
    values = {"key": "k1", "lead_id": "lead-1", "expires_at": 1.0}
    with write_transaction(engine) as connection:
        Prepared(INSERT_KEY).execute(connection, values)

    with pytest.raises(IntegrityError), write_transaction(engine) as connection:
        Prepared(INSERT_KEY).execute(connection, values)


def test_failed_write_transaction_rolls_back(engine):
    with pytest.raises(RuntimeError), write_transaction(engine) as connection:
        Prepared(INSERT_KEY).execute(connection, {"key": "k1", "lead_id": "lead-1", "expires_at": 1.0})
        raise RuntimeError("stop")

    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM idempotency_keys")).scalar_one() == 0
