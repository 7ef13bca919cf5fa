"""PostgreSQL's pooled connections: tested after idling, used as they are while busy, replaced when closed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.store import engine as engine_module
from app.store import fair_pool
from app.store.engine import make_engine, pending_migrations, rerun_if_closed
from app.store.repository import Store, StoreUnavailable
from app.store.stats import read_queue_stats
from app.store.transactions import SingleTransactions
from tests.conftest import build_app
from tests.store.helpers import START, lead_row
from tests.stores import fresh_postgres_url


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = make_engine(fresh_postgres_url(), pool_size=1)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine, monkeypatch) -> list[object]:
    """The connections the pool tested, in order."""
    tested = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: tested.append(connection) or ping(connection))
    return tested


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(engine: Engine, pid: int) -> None:
    """Close a server process of the engine's database from another connection, as a restart would."""
    admin = create_engine(make_url(engine.url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_busy_connection_used_untested(engine, pings):
    first = backend_pid(engine)
    second = backend_pid(engine)

    assert second == first
    assert pings == []


def test_idle_connection_tested_on_checkout(engine, pings, monkeypatch):
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
    first = backend_pid(engine)
    second = backend_pid(engine)

    assert second == first
    assert len(pings) == 1


def test_closed_idle_connection_replaced(engine, pings, monkeypatch):
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
    first = backend_pid(engine)
    terminate(engine, first)

    second = backend_pid(engine)

    assert second != first
    assert len(pings) == 1


def closing_work(closes: int, calls: list[int], reruns: list[bool] | None = None):
    """Return a write that closes its own connection on its first `closes` runs, then returns its pid.

    Each run appends to `reruns` whether its checkouts go to the front of the pool's line.
    """

    def work(connection) -> int:
        calls.append(len(calls) + 1)
        if reruns is not None:
            reruns.append(fair_pool._RERUN.get())
        if len(calls) <= closes:
            connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()

    return work


def test_write_runs_again_after_close(engine):
    calls = []

    pid = SingleTransactions(engine).run(closing_work(1, calls))

    assert calls == [1, 2]
    assert pid == backend_pid(engine)


def test_write_rerun_first_in_line(engine):
    calls = []
    reruns = []

    SingleTransactions(engine).run(closing_work(1, calls, reruns))

    assert reruns == [False, True]
    assert fair_pool._RERUN.get() is False


def test_read_rerun_first_in_line(engine):
    calls = []
    reruns = []
    work = closing_work(1, calls, reruns)

    @rerun_if_closed
    def read() -> int:
        with engine.connect() as connection:
            return work(connection)

    assert read() == backend_pid(engine)
    assert reruns == [False, True]
    assert fair_pool._RERUN.get() is False


def test_write_closed_twice_raises(engine):
    calls = []

    with pytest.raises(OperationalError):
        SingleTransactions(engine).run(closing_work(2, calls))

    assert calls == [1, 2]


def test_accept_after_connection_closed(engine):
    store = Store(engine)
    store.accept(lead_row(), None, key_ttl=60, now=START)
    terminate(engine, backend_pid(engine))

    row = lead_row()
    accepted = store.accept(row, None, key_ttl=60, now=START)

    assert accepted.repeat is False
    assert store.get(row["id"]) is not None


def test_full_pool_fails_after_wait(monkeypatch):
    monkeypatch.setattr(engine_module, "POOL_WAIT", 0.1)
    engine = make_engine(fresh_postgres_url(), pool_size=1)
    store = Store(engine)

    with engine.connect(), pytest.raises(StoreUnavailable, match="TimeoutError"):
        store.accept(lead_row(), None, key_ttl=60, now=START)
    engine.dispose()


def test_processes_open_configured_pool(document):
    document["storage"] = {"url": fresh_postgres_url(), "pool_size": 3}

    engine = build_app(document).extensions["relay"].store.engine

    assert engine.pool.size() == 3


def test_read_after_connection_closed(engine):
    store = Store(engine)
    row = lead_row()
    store.accept(row, None, key_ttl=60, now=START)
    terminate(engine, backend_pid(engine))

    found = store.get(row["id"])

    assert found is not None
    assert found["id"] == row["id"]


def test_migration_check_after_connection_closed(engine):
    terminate(engine, backend_pid(engine))

    assert pending_migrations(engine) is False


def test_queue_counts_after_connection_closed(engine):
    terminate(engine, backend_pid(engine))

    stats = read_queue_stats(Store(engine), time_limit=5)

    assert stats.counts["queued"] == 0
