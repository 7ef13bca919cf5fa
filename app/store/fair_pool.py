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

import threading
from collections import deque
from typing import Any

from sqlalchemy.pool import QueuePool
from sqlalchemy.util.queue import Empty, Full, Queue


class _Waiter:
    """A `get` waiting for an item, and the item a `put` handed to it."""

    __slots__ = ("event", "item", "served")

    def __init__(self) -> None:
        # Under gevent this is its event, so a waiting request lets the worker's other requests run.
        self.event = threading.Event()
        self.item: Any = None
        self.served = False


class HandOffQueue(Queue):
    """SQLAlchemy's pool queue, where `put` hands its item to the longest-waiting `get` when there is one.

    The queue contains items only while no `get` waits, so a `get` that finds an item never passes a waiter.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[_Waiter] = deque()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Hand `item` to the longest-waiting `get`, or else add it to the queue."""
        with self.mutex:
            if self._waiters:
                waiter = self._waiters.popleft()
                waiter.item = item
                waiter.served = True
                waiter.event.set()
                return
            # The mutex is reentrant, so no `get` can start waiting between the check and the put.
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
            waiter = _Waiter()
            self._waiters.append(waiter)

        try:
            waiter.event.wait(timeout)
        except BaseException:
            self._abandon(waiter)
            raise

        with self.mutex:
            if waiter.served:
                return waiter.item
            self._waiters.remove(waiter)
        raise Empty

    def _abandon(self, waiter: _Waiter) -> None:
        """Withdraw a stopped waiter. An item handed to it as it stopped goes to the next waiter or the queue."""
        with self.mutex:
            if not waiter.served:
                self._waiters.remove(waiter)
                return
        try:
            self.put(waiter.item, False)
        except Full:
            # Only a disposed pool, whose count of connections started again, can have one more than it
            # keeps. QueuePool closes such a surplus connection when it comes back, and so does this.
            waiter.item.close()


class FairQueuePool(QueuePool):
    """QueuePool with a queue that serves waiting checkouts first come, first served.

    NOTE: a request that runs again on a new connection after the server closed its old one
    checks out at the end of the line. When the server closes connections about as often as
    that wait lasts, the new one may be closed too, and the request fails with 503 although
    the pool was never exhausted.
    """

    _queue_class = HandOffQueue
