"""Queue counts for the metrics: read from indexes, and stopped when they take too long."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.store.engine import rerun_if_closed, store_file_present
from app.store.repository import Store, StoreUnavailable
from app.store.tables import customer_holds, leads

# Statuses the queue metrics count: waiting for the worker, failed, and given up.
COUNTED_STATUSES = ("queued", "failed", "dead")

# SQLite calls the progress handler after this many virtual machine steps, to check the deadline.
_SQLITE_PROGRESS_STEPS = 10_000

_BY_STATUS = select(leads.c.status, func.count()).where(leads.c.status.in_(COUNTED_STATUSES)).group_by(leads.c.status)
_OLDEST_QUEUED = select(func.min(leads.c.created_at)).where(leads.c.status == "queued")
_HOLDS = select(func.count()).select_from(customer_holds)


@dataclass(frozen=True)
class QueueStats:
    """Leads per counted status, the oldest queued lead's creation time, and the customers on hold."""

    counts: dict[str, int]
    oldest_queued_at: float | None
    customers_on_hold: int


def read_queue_stats(store: Store, *, time_limit: float) -> QueueStats:
    """Count leads by status (leads_status_created index) and holds; raise StoreUnavailable on failure."""
    if not store_file_present(store.engine):
        # Connecting would create an empty file in the removed one's place.
        raise StoreUnavailable("the store's file is missing")

    try:
        return _count(store.engine, time_limit)
    except SQLAlchemyError as error:
        raise StoreUnavailable(f"the queue counts failed: {type(error).__name__}") from error


@rerun_if_closed
def _count(engine: Engine, time_limit: float) -> QueueStats:
    with engine.connect() as connection, _time_limit(connection, time_limit):
        counts = {status: 0 for status in COUNTED_STATUSES}
        counts.update({status: count for status, count in connection.execute(_BY_STATUS).all()})
        return QueueStats(
            counts=counts,
            oldest_queued_at=connection.execute(_OLDEST_QUEUED).scalar_one(),
            customers_on_hold=connection.execute(_HOLDS).scalar_one(),
        )


@contextmanager
def _time_limit(connection: Connection, seconds: float) -> Iterator[None]:
    """Abort each statement that runs longer than `seconds`, on PostgreSQL and SQLite alike."""
    if connection.dialect.name == "postgresql":
        with connection.begin():
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
            yield
        return

    if connection.dialect.name != "sqlite":
        yield
        return

    driver = connection.connection.driver_connection
    deadline = time.monotonic() + seconds
    # A non-zero return makes SQLite interrupt the statement, which then fails as OperationalError.
    driver.set_progress_handler(lambda: int(time.monotonic() > deadline), _SQLITE_PROGRESS_STEPS)
    try:
        with connection.begin():
            yield
    finally:
        driver.set_progress_handler(None, 0)
