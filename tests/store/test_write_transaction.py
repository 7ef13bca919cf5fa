"""SQLite transactions: writes take the write lock at BEGIN, reads never take it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from app.store.engine import make_engine, write_transaction
from tests.stores import fresh_store_url


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = make_engine(fresh_store_url("sqlite"))
    yield engine
    engine.dispose()


def lock_is_free(engine: Engine) -> bool:
    """Return whether another connection could take the write lock at once."""
    other = sqlite3.connect(engine.url.database, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()
    return True


def test_write_transaction_locks_at_begin(engine):
    with write_transaction(engine):
        assert not lock_is_free(engine)

    assert lock_is_free(engine)


def test_read_transaction_leaves_lock_free(engine):
    with engine.connect() as connection, connection.begin():
        connection.execute(text("SELECT count(*) FROM leads")).scalar_one()
        assert lock_is_free(engine)


def test_read_after_write_leaves_lock_free(engine):
    with write_transaction(engine) as connection:
        written = connection.connection.dbapi_connection

    # The pool hands the same connection out again, and its next transaction must be a plain BEGIN.
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection is written
        connection.execute(text("SELECT count(*) FROM leads")).scalar_one()
        assert lock_is_free(engine)
