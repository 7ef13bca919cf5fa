"""Migrations: 0002 adds and fills the searchable email and phone columns, and its downgrade keeps attempts.

0003 widens the idempotency key column and keeps the keys already stored.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url

from app.leads import Lead
from app.store.engine import _alembic_config, make_engine
from app.store.tables import attempts, idempotency_keys, leads
from tests.store.helpers import START, attempt_record, lead_row
from tests.stores import POSTGRES_URL, fresh_postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request):
    """The URL of an empty database of its own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{Path(tempfile.mkdtemp(prefix='relay-migrations-')) / 'relay.db'}"
        return

    fresh_postgres_url()  # skips, or fails in CI, without a server
    url = make_url(POSTGRES_URL)
    url = url.set(database=f"{url.database}_migrations")
    admin = create_engine(make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def run_alembic(engine, action, revision: str) -> None:
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def old_row(lead: Lead | None) -> dict:
    row = lead_row(now=START)
    row["lead"] = json.dumps(lead.to_dict()) if lead else None
    return row


def test_0002_fills_contact_columns(empty_url):
    engine = make_engine(empty_url)
    run_alembic(engine, command.upgrade, "0001")
    both = old_row(Lead(email="Ada.Lovelace@Example.com", phone="+19495550181"))
    phone_only = old_row(Lead(phone="+442079460958"))
    rejected = old_row(None)
    with engine.begin() as connection:
        for row in (both, phone_only, rejected):
            # Only the given columns are inserted, and the new ones have no default.
            connection.execute(insert(leads).values(**row))

    run_alembic(engine, command.upgrade, "head")

    with engine.connect() as connection:
        found = {row.id: row for row in connection.execute(
            select(leads.c.id, leads.c.email_normalized, leads.c.phone_normalized))}
    engine.dispose()
    assert found[both["id"]].email_normalized == "ada.lovelace@example.com"
    assert found[both["id"]].phone_normalized == "+19495550181"
    assert found[phone_only["id"]].email_normalized is None
    assert found[phone_only["id"]].phone_normalized == "+442079460958"
    assert found[rejected["id"]].email_normalized is None
    assert found[rejected["id"]].phone_normalized is None


def test_0002_downgrade_keeps_attempts(empty_url):
    engine = make_engine(empty_url)
    run_alembic(engine, command.upgrade, "head")
    row = lead_row(now=START, email_normalized="ada@example.com")
    with engine.begin() as connection:
        connection.execute(insert(leads).values(**row))
        connection.execute(insert(attempts).values(lead_id=row["id"], claim_token=1, **attempt_record(1, now=START)))

    run_alembic(engine, command.downgrade, "0001")

    with engine.connect() as connection:
        lead_columns = connection.execute(text("SELECT * FROM leads")).keys()
        attempt_count = connection.execute(text("SELECT count(*) FROM attempts")).scalar_one()
    engine.dispose()
    assert "email_normalized" not in lead_columns
    assert attempt_count == 1


# The key of a header sent to a 64-character source: longer than the 128 characters 0002 allows.
LONG_KEY = f"key:{'s' * 64}:{'a' * 64}"
OLD_KEY = f"fingerprint:landing:{'b' * 64}"


def stored_keys(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(idempotency_keys.c.key, idempotency_keys.c.lead_id)).all())


def test_0003_keeps_keys_and_takes_longer_ones(empty_url):
    engine = make_engine(empty_url)
    run_alembic(engine, command.upgrade, "0002")
    with engine.begin() as connection:
        connection.execute(insert(idempotency_keys).values(key=OLD_KEY, lead_id="lead-old", expires_at=START))

    run_alembic(engine, command.upgrade, "head")

    with engine.begin() as connection:
        connection.execute(insert(idempotency_keys).values(key=LONG_KEY, lead_id="lead-new", expires_at=START))
    key_column = next(column for column in inspect(engine).get_columns("idempotency_keys") if column["name"] == "key")
    indexes = {index["name"] for index in inspect(engine).get_indexes("idempotency_keys")}
    primary_key = inspect(engine).get_pk_constraint("idempotency_keys")["constrained_columns"]
    found = stored_keys(engine)
    engine.dispose()
    assert found == {OLD_KEY: "lead-old", LONG_KEY: "lead-new"}
    assert key_column["type"].length == 255
    assert "idempotency_keys_expiry" in indexes
    assert primary_key == ["key"]


def test_0003_downgrade_keeps_short_keys(empty_url):
    engine = make_engine(empty_url)
    run_alembic(engine, command.upgrade, "head")
    with engine.begin() as connection:
        connection.execute(insert(idempotency_keys).values(key=OLD_KEY, lead_id="lead-old", expires_at=START))
        connection.execute(insert(idempotency_keys).values(key=LONG_KEY, lead_id="lead-new", expires_at=START))

    run_alembic(engine, command.downgrade, "0002")

    key_column = next(column for column in inspect(engine).get_columns("idempotency_keys") if column["name"] == "key")
    found = stored_keys(engine)
    engine.dispose()
    assert key_column["type"].length == 128
    assert found[OLD_KEY] == "lead-old"
    # PostgreSQL drops the keys that no longer fit, but SQLite does not enforce the length and keeps them.
    assert (LONG_KEY in found) == empty_url.startswith("sqlite")
