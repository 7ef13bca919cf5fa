"""Migrations: 0002 adds and fills the searchable email and phone columns, and its downgrade keeps attempts."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from app.leads import Lead
from app.store.engine import _alembic_config, make_engine
from app.store.tables import attempts, leads
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
