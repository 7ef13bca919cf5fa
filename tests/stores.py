"""Test stores: a fresh migrated SQLite file, or a clean PostgreSQL database.

PostgreSQL tests run wherever a server answers at RELAY_TEST_POSTGRES_URL
(default: the local server, as the current user, in a database of the run's own). When none answers they are skipped,
except in CI (CI=true), where a missing server fails them instead.
"""

from __future__ import annotations

import atexit
import functools
import getpass
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.store.engine import make_engine, migrate
from app.store.tables import metadata

# Each test run gets its own database, so two runs on one server cannot empty each other's tables.
POSTGRES_URL = os.environ.get(
    "RELAY_TEST_POSTGRES_URL",
    f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/relay_test_{os.getpid()}",
)


@functools.cache
def _migrated_sqlite_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="relay-tests-")) / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


def fresh_sqlite_url(directory: str | Path | None = None) -> str:
    """Return the URL of a new, migrated SQLite store of its own, in `directory` or the temporary folder."""
    path = Path(tempfile.mkdtemp(prefix="relay-test-", dir=directory)) / "relay.db"
    shutil.copyfile(_migrated_sqlite_template(), path)
    return f"sqlite:///{path}"


@functools.cache
def _postgres_ready() -> str | None:
    """Create and migrate the test database once; return None when no server answers."""
    url = make_url(POSTGRES_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    except OperationalError:
        return None
    finally:
        admin.dispose()

    engine = make_engine(POSTGRES_URL)
    migrate(engine)
    engine.dispose()
    atexit.register(_drop_database, url)
    return POSTGRES_URL


def _drop_database(url) -> None:
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    except OperationalError:
        pass
    finally:
        admin.dispose()


def fresh_postgres_url() -> str:
    """Return the URL of the migrated PostgreSQL test database, emptied; skip or fail without one."""
    url = _postgres_ready()
    if url is None:
        message = f"no PostgreSQL server answers at {POSTGRES_URL}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests")
        pytest.skip(message)

    engine = create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(table.name for table in metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables}"))
    engine.dispose()
    return url


def fresh_store_url(kind: str) -> str:
    """Return a fresh store URL of the given kind: "sqlite" or "postgresql"."""
    return fresh_sqlite_url() if kind == "sqlite" else fresh_postgres_url()
