"""Write transactions: one per write on PostgreSQL, shared by concurrent writes on SQLite (group commit).

SQLite has one writer at a time and syncs every commit to disk. When many
requests of one process write at once, each waiting for the lock and paying
for its own sync makes the commits most of a lead's cost. Group commit runs
the writes waiting in one process in one transaction, each in its own
savepoint, so they share the lock and the sync. A write that fails rolls
back to its savepoint alone. A commit that fails fails every write of its
transaction, and none of them is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from app.store.engine import write_transaction
from app.store.fair_pool import first_in_line

Result = TypeVar("Result")
Work = Callable[[Connection], Result]

# Writes one transaction takes at most, so that the first of them is not kept waiting by a long batch.
MAX_BATCH = 64


class SingleTransactions:
    """Each write in its own transaction: PostgreSQL commits concurrent transactions side by side.

    A pooled connection that the server closed (a restart, an idle timeout) fails the write's first
    statement. The write then runs once more on a new connection, because its transaction never reached
    the server's commit. A commit that fails is not run again: the server may have committed it.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def run(self, work: Work[Result]) -> Result:
        """Run `work` in a transaction of its own and commit it; its exception rolls it back and propagates."""
        try:
            return self._run_once(work, last=False)
        except _ClosedBeforeCommit:
            with first_in_line():
                return self._run_once(work, last=True)

    def _run_once(self, work: Work[Result], *, last: bool) -> Result:
        # Leaving the block commits, outside the try: a failed commit is never run again.
        with write_transaction(self._engine) as connection:
            try:
                return work(connection)
            except DBAPIError as error:
                if error.connection_invalidated and not last:
                    raise _ClosedBeforeCommit from error
                raise


class _ClosedBeforeCommit(Exception):
    """The connection was closed under a write before its commit, so the write can run again."""


class _Write:
    """One caller's work, waiting for a transaction, and what came of it."""

    __slots__ = ("done", "error", "leads", "result", "work")

    def __init__(self, work: Work[Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        # Set with `done` when this caller is to run the next transaction instead of finding its result.
        self.leads = False


class _TransactionLost(Exception):
    """SQLite rolled the whole transaction back on a write's error; no write of it is stored."""


class GroupCommit:
    """Concurrent writes of one process share SQLite transactions, each write in its own savepoint.

    The first caller leads: it opens the transaction, runs every write waiting
    once it holds the lock, commits, hands each caller its outcome, and passes
    the lead to the first caller that arrived meanwhile. With one caller at a
    time each write is its own transaction, with no savepoint, as without
    group commit.

    NOTE: in a gevent worker, writes gather only while the leader waits for
    the lock another process holds; SQLite's calls, the commit's sync among
    them, block the worker. Committing in gevent's thread pool let writes
    gather during the sync too, but it raised the relay's latency when
    PhoneBurner replies after 250 ms (bench/), so the commit stays in the
    worker's thread.
    """

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        # Under gevent these are its lock and event, so waiting callers let the worker's other requests run.
        self._lock = threading.Lock()
        self._waiting: list[_Write] = []
        self._leader_active = False

    def run(self, work: Work[Result]) -> Result:
        """Run `work` in a shared transaction and return its result once that transaction committed.

        An exception that `work` raises propagates after its own changes are rolled back. When the
        transaction fails to begin or to commit, its error propagates to every caller in it.
        """
        write = _Write(work)
        with self._lock:
            self._waiting.append(write)
            leads = not self._leader_active
            self._leader_active = True

        if not leads:
            self._wait(write)
        if write.leads or leads:
            self._lead(write)

        if write.error is not None:
            raise write.error
        return write.result

    def _wait(self, write: _Write) -> None:
        try:
            write.done.wait()
        except BaseException:
            # This caller is being stopped: its write is withdrawn unless a transaction took it,
            # and a lead passed to it goes on to the next caller.
            with self._lock:
                self._withdraw(write)
                passed_lead = write.leads
            if passed_lead:
                self._pass_lead([])
            raise

    def _lead(self, own: _Write) -> None:
        batch: list[_Write] = []
        try:
            batch = self._commit_batch()
        except BaseException:
            with self._lock:
                self._withdraw(own)
            raise
        finally:
            self._pass_lead(batch)

    def _commit_batch(self) -> list[_Write]:
        batch: list[_Write] = []
        try:
            with write_transaction(self._engine) as connection:
                # Taken once the lock is held, so writes that came while waiting for it join this transaction.
                batch = self._take_batch()
                for write in batch:
                    # A write runs again after its leader was stopped, and its first run was rolled back.
                    write.error = None
                if len(batch) == 1:
                    # Its exception rolls back the transaction, which contains this write only.
                    batch[0].result = batch[0].work(connection)
                else:
                    for write in batch:
                        self._run_in_savepoint(connection, write)
        except Exception as error:
            failure = error.__cause__ if isinstance(error, _TransactionLost) else error
            # A transaction that failed to begin took no batch yet: the writes waiting for it fail with it.
            batch = batch or self._take_batch()
            for write in batch:
                # Also over a write's own error: an error that another write of this transaction caused,
                # such as finding its key taken, is void once that write is rolled back too.
                write.error = failure
            return batch
        except BaseException:
            # The leader is being stopped and its transaction rolled back: the writes go to the next one.
            with self._lock:
                self._waiting[:0] = batch
            raise
        return batch

    def _take_batch(self) -> list[_Write]:
        with self._lock:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
        return batch

    def _withdraw(self, write: _Write) -> None:
        # Called with the lock held.
        if write in self._waiting:
            self._waiting.remove(write)

    @staticmethod
    def _run_in_savepoint(connection: Connection, write: _Write) -> None:
        connection.exec_driver_sql("SAVEPOINT grouped_write")
        try:
            write.result = write.work(connection)
        except Exception as error:
            write.error = error
            if not connection.connection.driver_connection.in_transaction:
                # Some errors (a full disk, an I/O error) make SQLite roll back the whole transaction.
                raise _TransactionLost() from error
            connection.exec_driver_sql("ROLLBACK TO grouped_write")
        connection.exec_driver_sql("RELEASE grouped_write")

    def _pass_lead(self, batch: list[_Write]) -> None:
        with self._lock:
            successor = self._waiting[0] if self._waiting else None
            if successor is None:
                self._leader_active = False
            else:
                successor.leads = True
        for write in batch:
            write.done.set()
        if successor is not None:
            successor.done.set()
