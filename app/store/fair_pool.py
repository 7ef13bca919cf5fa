"""A connection pool that serves the requests waiting for a connection in the order they arrived.

SQLAlchemy's QueuePool keeps its idle connections in a queue whose `get`
takes whatever connection is there. A returned connection wakes the
longest waiter, but a request that arrives before that waiter runs takes
the connection first, and the waiter goes back to the end of the line. In
a gevent worker the request that returned the connection usually sends the
next one first, so some requests wait many rounds. This was measured at
the outage point of bench/run on PostgreSQL, where each request only
stores its lead, with 32 requests per worker for its 10 connections. The
p50 was 22 ms and the p99 1.1 to 1.5 s, and the slowest requests waited
2.6 s of the 5 s allowed.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from sqlalchemy.pool import QueuePool
from sqlalchemy.util.queue import Empty, Full, Queue

from app.waiting_line import WaitingLine

# True while a request runs again after the server closed its connection.
_RERUN = contextvars.ContextVar("pool_rerun", default=False)


@contextlib.contextmanager
def first_in_line() -> Iterator[None]:
    """Put the block's checkouts at the front of the line of waiting ones.

    For a request that runs again on a new connection after the server closed its
    old one, because it waited its turn already. At the end of the line, when the
    server closes connections about as often as that wait lasts, the new connection
    may be closed too. Under gevent each greenlet has its own context, so the flag
    stays with the request.
    """
    token = _RERUN.set(True)
    try:
        yield
    finally:
        _RERUN.reset(token)


class HandOffQueue(Queue):
    """SQLAlchemy's pool queue, where `put` hands its item to the longest-waiting `get` when there is one.

    The queue contains items only while no `get` waits, so a `get` that finds an item never passes a waiter.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._line = WaitingLine(self.mutex)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Hand `item` to the longest-waiting `get`, or else add it to the queue."""
        with self.mutex:
            # The mutex is reentrant, so no `get` can start waiting between the hand-off and the put.
            if not self._line.hand(item):
                super().put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Return an item from the queue, or the next one put within `timeout` seconds. Raise Empty if none arrives."""
        with self.mutex:
            if not self._empty():
                item = self._get()
                self.not_full.notify()
                return item
            if not block:
                raise Empty
            ticket = self._line.join(first=_RERUN.get())

        if self._line.wait(ticket, timeout, give_back=self._give_back):
            return ticket.item
        raise Empty

    def _give_back(self, item: Any) -> None:
        """Pass on an item handed to a stopped waiter: to the next waiter, or to the queue."""
        try:
            self.put(item, False)
        except Full:
            # Only a disposed pool, whose count of connections started again, can have one more than it
            # keeps. QueuePool closes such a surplus connection when it comes back, and so does this.
            item.close()


class FairQueuePool(QueuePool):
    """QueuePool with a queue that serves waiting checkouts first come, first served, and reruns first."""

    _queue_class = HandOffQueue
