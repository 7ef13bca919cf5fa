"""A line of callers waiting for a shared resource, served first come, first served.

A lock or queue that wakes a waiter when a resource comes back lets a caller
that arrives before the waiter runs take the resource first. The waiter then
waits again at the end of the line. In a gevent worker the request that gave
the resource back often requests it again at once, so some requests wait many
rounds. Here the owner hands a returned resource straight to the longest
waiter, and a newcomer finds nothing to take while anyone waits.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class Ticket:
    """A caller's place in a `WaitingLine`, and the item handed to it."""

    __slots__ = ("event", "item", "served")

    def __init__(self) -> None:
        # Under gevent this is its event, so a waiting request lets the worker's other requests run.
        self.event = threading.Event()
        self.item: Any = None
        self.served = False


class WaitingLine:
    """The callers waiting for an owner's resource, in arrival order.

    `join` and `hand` run with the owner's mutex held, the same mutex the owner
    holds while it checks for a free resource, so no caller can start waiting
    between that check and a hand-off. `wait` runs without it.
    """

    def __init__(self, mutex: threading.Lock | threading.RLock) -> None:
        self._mutex = mutex
        self._tickets: deque[Ticket] = deque()

    def __len__(self) -> int:
        """Return how many callers wait."""
        return len(self._tickets)

    def join(self, *, first: bool = False) -> Ticket:
        """Return a ticket at the end of the line, or at its front with `first`; call with the mutex held.

        Of several tickets joined with `first`, the latest is served first.
        """
        ticket = Ticket()
        if first:
            self._tickets.appendleft(ticket)
        else:
            self._tickets.append(ticket)
        return ticket

    def hand(self, item: Any) -> bool:
        """Hand `item` to the longest waiter and return True, or return False if the line is empty.

        Call with the mutex held.
        """
        if not self._tickets:
            return False
        ticket = self._tickets.popleft()
        ticket.item = item
        ticket.served = True
        ticket.event.set()
        return True

    def wait(self, ticket: Ticket, timeout: float | None, give_back: Callable[[Any], None]) -> bool:
        """Wait up to `timeout` seconds for an item; return whether one was handed to `ticket`.

        A caller that gives up leaves the line. A caller stopped by an exception (a gevent Timeout, a
        killed greenlet) leaves it too, and an item handed to it meanwhile goes to `give_back`.
        """
        try:
            ticket.event.wait(timeout)
        except BaseException:
            self._abandon(ticket, give_back)
            raise

        with self._mutex:
            if not ticket.served:
                self._tickets.remove(ticket)
            return ticket.served

    def _abandon(self, ticket: Ticket, give_back: Callable[[Any], None]) -> None:
        with self._mutex:
            if not ticket.served:
                self._tickets.remove(ticket)
                return
        give_back(ticket.item)
