"""The PostgreSQL connection pool serves waiting checkouts in the order they arrived."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.util.queue import Empty

from app import waiting_line
from app.store.engine import make_engine
from app.store.fair_pool import FairQueuePool, HandOffQueue, first_in_line
from tests.stores import fresh_store_url

ROOT = Path(__file__).resolve().parents[2]


def wait_for_waiters(queue: HandOffQueue, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(queue._line) < count:
        assert time.monotonic() < deadline, "the getter never started waiting"
        time.sleep(0.001)


def test_put_hands_item_to_waiter_before_newcomer():
    queue = HandOffQueue(2)
    got = []
    waiter = threading.Thread(target=lambda: got.append(queue.get(True, 5)))
    waiter.start()
    wait_for_waiters(queue, 1)

    queue.put("connection", False)

    with pytest.raises(Empty):
        queue.get(False)
    waiter.join(5)
    assert got == ["connection"]


def test_waiters_served_in_arrival_order():
    queue = HandOffQueue(3)
    served = []
    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=lambda name=name: served.append((name, queue.get(True, 5))))
        thread.start()
        wait_for_waiters(queue, len(threads) + 1)
        threads.append(thread)

    for item in (1, 2, 3):
        queue.put(item, False)
    for thread in threads:
        thread.join(5)

    assert sorted(served) == [("first", 1), ("second", 2), ("third", 3)]


def test_rerun_served_before_earlier_waiters():
    queue = HandOffQueue(2)
    served = []

    def get(name: str) -> None:
        served.append((name, queue.get(True, 5)))

    def rerun() -> None:
        with first_in_line():
            get("rerun")

    early = threading.Thread(target=get, args=("early",))
    early.start()
    wait_for_waiters(queue, 1)
    again = threading.Thread(target=rerun)
    again.start()
    wait_for_waiters(queue, 2)

    queue.put(1, False)
    again.join(5)
    queue.put(2, False)
    early.join(5)

    assert served == [("rerun", 1), ("early", 2)]


GEVENT_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()

    import gevent
    from app.store.fair_pool import _RERUN, first_in_line

    seen = []

    def rerun():
        with first_in_line():
            gevent.sleep(0.05)
            seen.append(("rerun", _RERUN.get()))

    def other():
        gevent.sleep(0.01)
        seen.append(("other", _RERUN.get()))

    gevent.joinall([gevent.spawn(rerun), gevent.spawn(other)], timeout=5)
    print(seen)
    """
)


def test_rerun_flag_stays_with_its_greenlet():
    # A separate process, because gevent's patches must come before anything imports threading.
    completed = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )

    assert completed.stdout.strip() == "[('other', False), ('rerun', True)]"


def test_get_times_out_and_withdraws():
    queue = HandOffQueue(1)

    with pytest.raises(Empty):
        queue.get(True, 0.01)

    assert len(queue._line) == 0
    queue.put("connection", False)
    assert queue.get(False) == "connection"


def stop_waiter_after(monkeypatch, queue: HandOffQueue, puts: list) -> None:
    """Start a `get` whose wait sees `puts` put on the queue and is then stopped, as a killed greenlet would be."""

    class StoppedEvent(threading.Event):
        def wait(self, timeout=None):
            for item in puts:
                queue.put(item, False)
            raise KeyboardInterrupt

    monkeypatch.setattr(waiting_line.threading, "Event", StoppedEvent)
    with pytest.raises(KeyboardInterrupt):
        queue.get(True, 5)
    monkeypatch.undo()


def test_stopped_waiter_passes_item_on(monkeypatch):
    queue = HandOffQueue(1)

    stop_waiter_after(monkeypatch, queue, ["connection"])

    assert queue.get(False) == "connection"


def test_stopped_waiter_closes_surplus_item(monkeypatch):
    queue = HandOffQueue(1)

    class Connection:
        closed = False

        def close(self) -> None:
            self.closed = True

    surplus = Connection()

    # The first put is handed to the waiter, the second fills the queue before the waiter passes its item on.
    stop_waiter_after(monkeypatch, queue, [surplus, "kept"])

    assert surplus.closed
    assert queue.get(False) == "kept"


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = make_engine(fresh_store_url("postgresql"), pool_size=2)
    yield engine
    engine.dispose()


def test_postgres_engine_waiter_gets_returned_connection(engine):
    assert isinstance(engine.pool, FairQueuePool)
    first, second = engine.connect(), engine.connect()
    outcome = []

    def third() -> None:
        with engine.connect() as connection:
            outcome.append(connection.execute(text("SELECT 1")).scalar_one())

    waiting = threading.Thread(target=third)
    waiting.start()
    wait_for_waiters(engine.pool._pool, 1)
    first.close()
    waiting.join(5)
    second.close()

    assert outcome == [1]


def test_postgres_engine_times_out_when_pool_busy(engine, monkeypatch):
    monkeypatch.setattr(engine.pool, "_timeout", 0.05)
    checked_out = [engine.connect(), engine.connect()]

    with pytest.raises(PoolTimeout):
        engine.connect()

    for connection in checked_out:
        connection.close()
    assert len(engine.pool._pool._line) == 0


def test_postgres_pool_recreated_fair(engine):
    engine.dispose()

    assert isinstance(engine.pool, FairQueuePool)
    assert engine.pool.size() == 2
