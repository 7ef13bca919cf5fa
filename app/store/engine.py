"""Engines for the store: SQLite tuned for durability by default, PostgreSQL to scale out."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError

from app.store.fair_pool import FairQueuePool, first_in_line

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# The newest migration's revision, which this code needs; a test checks it against the
# migrations folder. /readyz compares it with the store's, so that web processes need not
# import alembic, which would add about 10 MiB to each of them.
SCHEMA_REVISION = "0005"

# Milliseconds a SQLite writer waits for another process's transaction before failing.
SQLITE_BUSY_TIMEOUT_MS = 5000

# Seconds between a waiting writer's tries to take SQLite's write lock: the first pause, and the longest.
LOCK_RETRY_FIRST = 0.0005
LOCK_RETRY_MAX = 0.005

# Seconds a request waits for a free PostgreSQL connection. A transaction uses one for milliseconds,
# so a longer wait means the database is overloaded, and the sender gets 503 within the inline budget.
POOL_WAIT = 5.0

# Seconds a pooled PostgreSQL connection may stay unused before its checkout tests it with a round trip.
# A server restart or a proxy's idle timeout usually closes connections that were idle longer than this.
# A read or write that meets a closed connection anyway runs again on a new one, unless a write's COMMIT failed.
PING_AFTER_IDLE = 1.0


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine; for SQLite, create the file's folder and set WAL and full sync.

    A PostgreSQL engine opens `pool_size` connections at most. Requests that find them all in use get
    one in the order they arrived (FairQueuePool), each within POOL_WAIT seconds or else the store is
    unavailable (503).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(
            url, poolclass=FairQueuePool, pool_size=pool_size, max_overflow=0, pool_timeout=POOL_WAIT
        )
        _ping_after_idle(engine)
        return engine

    database = parsed.database
    if database and database != ":memory:":
        # On failure, connecting fails with SQLite's own message, which readiness and the store report.
        with contextlib.suppress(OSError):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _configure_sqlite)
    # pysqlite opens transactions lazily and never with BEGIN IMMEDIATE, so the dialect's begin takes over.
    # A "begin" event could do the same, but any engine event makes every statement dispatch events,
    # which cost about a fifth of the store's CPU time per lead (bench/store-cpu).
    engine.dialect.do_begin = _begin_sqlite
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Make the pool test a connection on checkout only when it was idle longer than PING_AFTER_IDLE.

    SQLAlchemy's pool_pre_ping would test every checkout, a round trip that cost about 5% of a PostgreSQL
    worker's CPU time, measured at two checkouts per lead.
    """
    dialect = engine.dialect

    def note_checkin(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool replaces this connection, and the others of its age, then checks out again.
            message = f"pooled connection failed its ping after idling: {type(error).__name__}"
            raise InvalidatePoolError(message) from error

    event.listen(engine.pool, "checkin", note_checkin)
    event.listen(engine.pool, "checkout", ping_if_idle)


Params = ParamSpec("Params")
Result = TypeVar("Result")


def rerun_if_closed(read: Callable[Params, Result]) -> Callable[Params, Result]:
    """Run a function once more when the server had closed its pooled connection, which the pool then replaced.

    Only for functions that change nothing, or whose writes are idempotent: a write whose commit failed may
    have committed.
    """

    @functools.wraps(read)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return read(*args, **kwargs)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        with first_in_line():
            return read(*args, **kwargs)

    return run


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Open a connection in a write transaction, committed when the block ends and rolled back on an exception.

    On SQLite the transaction begins with BEGIN IMMEDIATE, so writers queue for the write lock at
    BEGIN instead of failing when a read inside the transaction turns into a write.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # connection.begin() calls _begin_sqlite before anything else, which reads and clears the flag.
            connection.connection.info[_IMMEDIATE] = True
        with connection.begin():
            yield connection


# The pooled connection's flag that makes _begin_sqlite send BEGIN IMMEDIATE.
_IMMEDIATE = "begin_immediate"


def _begin_sqlite(pooled_connection) -> None:
    """Begin a transaction on a SQLite connection: BEGIN IMMEDIATE for `write_transaction`, else BEGIN."""
    driver = pooled_connection.driver_connection
    if pooled_connection.info.pop(_IMMEDIATE, False):
        _begin_immediate(driver)
    else:
        driver.execute("BEGIN")


def _begin_immediate(dbapi_connection: sqlite3.Connection) -> None:
    """Take the write lock, waiting in short sleeps while another process holds it, for the busy timeout at most.

    SQLite's own busy handler waits inside the C library, which stops every other request of a gevent
    worker, and its pauses grow to 100 ms. time.sleep lets them run, as gevent patches it in the web workers.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = LOCK_RETRY_FIRST
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                # SQLAlchemy raises the driver's error as its own OperationalError.
                if "locked" not in str(error) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, LOCK_RETRY_MAX)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _configure_sqlite(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; FULL syncs every commit to disk.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def store_file_present(engine: Engine) -> bool:
    """Return False when a SQLite store's file was removed under the running relay."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return True
    # Pooled connections keep writing to a deleted file, so its absence must be checked by name.
    # A missing folder is left to the connection, which reports the store unreachable.
    path = Path(database)
    return path.exists() or not path.parent.is_dir()


def _alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine) -> None:
    """Bring the store's tables up to the newest migration."""
    from alembic import command

    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@rerun_if_closed
def pending_migrations(engine: Engine) -> bool:
    """Return whether the store lacks a migration this version of the relay needs."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return True
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return current != [SCHEMA_REVISION]

