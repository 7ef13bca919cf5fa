"""Group commit on SQLite: concurrent writes share transactions, and each write's failure stays its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import OperationalError

from app.store import transactions
from app.store.engine import make_engine
from app.store.repository import Accepted, Store
from app.store.transactions import GroupCommit
from tests.store.helpers import lead_row
from tests.stores import fresh_store_url


class Stopped(BaseException):
    """Stands for what stops a greenlet or thread from outside: not an Exception, so nothing catches it."""


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = make_engine(fresh_store_url("sqlite"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (name TEXT PRIMARY KEY)"))
    yield engine
    engine.dispose()


@pytest.fixture
def commits(engine) -> list[float]:
    """The times of the engine's commits, in order."""
    seen: list[float] = []
    event.listen(engine, "commit", lambda _connection: seen.append(time.monotonic()))
    return seen


@pytest.fixture
def group(engine) -> GroupCommit:
    return GroupCommit(engine)


def add(name: str) -> Callable[[Connection], str]:
    """A write that inserts a note and returns its name."""

    def work(connection: Connection) -> str:
        connection.execute(text("INSERT INTO notes (name) VALUES (:name)"), {"name": name})
        return name

    return work


class KeyTaken(Exception):
    """The key note names another write's owner."""


def take_key(owner: str) -> Callable[[Connection], str]:
    """A write that takes the one key note for `owner`, or raises KeyTaken when another owner has it."""

    def work(connection: Connection) -> str:
        key_note = connection.execute(text("SELECT name FROM notes WHERE name LIKE 'key:%'")).scalar()
        if key_note is not None:
            raise KeyTaken(key_note)
        return add(f"key:{owner}")(connection)

    return work


def stop_once_then(work: Callable[[Connection], str]) -> Callable[[Connection], str]:
    """A write that raises Stopped on its first run, in the thread that leads the transaction as a greenlet
    kill would be, and runs `work` after that."""
    stops = iter([Stopped()])

    def stop_once(connection: Connection) -> str:
        stopped = next(stops, None)
        if stopped is not None:
            raise stopped
        return work(connection)

    return stop_once


def fail_commits_after_the_first() -> Callable[[object], None]:
    """A commit listener that lets the first commit through and fails every later one."""
    commits = iter([None])

    def fail(_connection) -> None:
        if next(commits, "fail") is not None:
            raise OperationalError("COMMIT", (), Exception("disk I/O error"))

    return fail


def notes(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT name FROM notes")).scalars())


class Batch:
    """Writes started on threads while a first write keeps its transaction open, so that they share the next one."""

    def __init__(self, group: GroupCommit, works: list[Callable[[Connection], object]]) -> None:
        self.group = group
        self.first_running = threading.Event()
        self.release = threading.Event()
        self.outcomes: dict[int, object] = {}
        self.threads = [
            threading.Thread(target=self._run, args=(index, work), name=f"write-{index}")
            for index, work in enumerate([self._first, *works])
        ]
        self.works = works

    def _first(self, connection: Connection) -> str:
        self.first_running.set()
        self.release.wait(10)
        return add("first")(connection)

    def _run(self, index: int, work) -> None:
        try:
            self.outcomes[index] = self.group.run(work)
        except BaseException as error:
            self.outcomes[index] = error

    def __enter__(self) -> Batch:
        self.threads[0].start()
        _wait_for(self.first_running.is_set)
        for thread in self.threads[1:]:
            thread.start()
        _wait_for(lambda: len(self.group._waiting) == len(self.works))
        return self

    def __exit__(self, *_exc) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(10)


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the writes did not queue in time"
        time.sleep(0.001)


def test_single_write_skips_savepoint(engine, group, commits):
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    assert group.run(add("alone")) == "alone"

    assert notes(engine) == {"alone"}
    assert len(commits) == 1
    assert not [statement for statement in statements if "SAVEPOINT" in statement]


def test_waiting_writes_share_transaction(engine, group, commits):
    with Batch(group, [add("b"), add("c"), add("d")]) as batch:
        pass

    assert batch.outcomes == {0: "first", 1: "b", 2: "c", 3: "d"}
    assert notes(engine) == {"first", "b", "c", "d"}
    assert len(commits) == 2


def test_failing_write_rolls_back_alone(engine, group):
    def add_then_fail(connection: Connection) -> None:
        add("undone")(connection)
        raise ValueError("this write fails")

    with Batch(group, [add("b"), add_then_fail, add("b"), add("d")]) as batch:
        pass

    assert isinstance(batch.outcomes[2], ValueError)
    # The second "b" breaks the primary key: a database error of one write stays its own, too.
    assert isinstance(batch.outcomes[3], Exception)
    assert batch.outcomes[4] == "d"
    assert notes(engine) == {"first", "b", "d"}


def test_failed_commit_fails_every_write(engine, group):
    def fail(_connection: Connection) -> None:
        raise ValueError("this write fails")

    event.listen(engine, "commit", fail_commits_after_the_first())
    with Batch(group, [add("b"), fail, add("c")]) as batch:
        pass

    assert batch.outcomes[0] == "first"
    assert all(isinstance(batch.outcomes[index], OperationalError) for index in (1, 2, 3))
    assert notes(engine) == {"first"}


def test_failed_commit_voids_caused_errors(engine, group):
    event.listen(engine, "commit", fail_commits_after_the_first())
    with Batch(group, [take_key("b"), take_key("c")]) as batch:
        pass

    # c found the key taken by b, but b is not stored either, so c must not be taken for b's repeat.
    assert isinstance(batch.outcomes[2], OperationalError)
    assert notes(engine) == {"first"}


def test_rerun_write_drops_stale_error(engine, group):
    with Batch(group, [take_key("b"), take_key("c"), stop_once_then(add("d"))]) as batch:
        pass

    # The stopped leader ran b (withdrawn with it) and c, which found the key taken by b and was rolled
    # back. In the next transaction c takes the key, and its caller must learn that.
    assert isinstance(batch.outcomes[1], Stopped)
    assert batch.outcomes[2] == "key:c"
    assert batch.outcomes[3] == "d"
    assert notes(engine) == {"first", "key:c", "d"}


def test_lost_transaction_fails_every_write(engine, group):
    def lose_the_transaction(connection: Connection) -> None:
        # What SQLite does itself on a full disk or an I/O error.
        connection.connection.driver_connection.execute("ROLLBACK")
        raise OperationalError("INSERT", (), Exception("database or disk is full"))

    with Batch(group, [add("b"), lose_the_transaction, add("d")]) as batch:
        pass

    assert all(isinstance(batch.outcomes[index], OperationalError) for index in (1, 2, 3))
    assert notes(engine) == {"first"}


def test_stopped_leader_requeues_writes(engine, group):
    with Batch(group, [add("b"), stop_once_then(add("c")), add("d")]) as batch:
        pass

    # The leader's own write is withdrawn with it; the others ran again in the next transaction.
    assert isinstance(batch.outcomes[1], Stopped)
    assert (batch.outcomes[2], batch.outcomes[3]) == ("c", "d")
    assert notes(engine) == {"first", "c", "d"}
    assert group._leader_active is False
    assert group._waiting == []


def test_stopped_successor_passes_lead(engine, group, monkeypatch):
    class StoppedWhenWoken(threading.Event):
        def wait(self, timeout=None) -> bool:
            woken = super().wait(timeout)
            if threading.current_thread().name == "write-1":
                raise Stopped
            return woken

    monkeypatch.setattr(transactions, "threading", SimpleNamespace(Event=StoppedWhenWoken, Lock=threading.Lock))
    group = GroupCommit(engine)

    with Batch(group, [add("b"), add("c")]) as batch:
        pass

    assert isinstance(batch.outcomes[1], Stopped)
    assert batch.outcomes[2] == "c"
    assert notes(engine) == {"first", "c"}
    assert group._leader_active is False


def test_failed_begin_fails_waiting_writes(engine, group, monkeypatch):
    blocker = engine.raw_connection()
    blocker.driver_connection.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr("app.store.engine.SQLITE_BUSY_TIMEOUT_MS", 50)
    try:
        with pytest.raises(OperationalError, match="locked"):
            group.run(add("blocked"))
    finally:
        blocker.driver_connection.execute("ROLLBACK")
        blocker.close()

    assert group.run(add("after")) == "after"
    assert notes(engine) == {"after"}


def test_store_accept_shares_commits():
    engine = make_engine(fresh_store_url("sqlite"))
    store = Store(engine)
    commits: list[float] = []
    event.listen(engine, "commit", lambda _connection: commits.append(time.monotonic()))
    rows = [lead_row() for _ in range(40)]
    barrier = threading.Barrier(len(rows))

    def accept(row) -> Accepted:
        barrier.wait(timeout=30)
        return store.accept(row, f"key-{row['id']}", key_ttl=60, now=time.time())

    with ThreadPoolExecutor(max_workers=len(rows)) as pool:
        outcomes = list(pool.map(accept, rows))

    assert [outcome.repeat for outcome in outcomes] == [False] * len(rows)
    assert store.counts() == {"queued": len(rows)}
    assert len(commits) < len(rows)
    engine.dispose()
