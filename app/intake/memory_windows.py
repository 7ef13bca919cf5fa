"""Fixed-window rate-limit counts in one process's memory, at a cost that does not grow with the clients counted.

The `limits` package's MemoryStorage (version 5.8) removes expired counts by
scanning every key, from a timer that it starts again 100 times a second
while requests come in. Each browser that posts a form is a client of its
own, so a busy relay counts tens of thousands of addresses a minute. At
10,000 keys one scan took about 2 ms here, a fifth of a worker's time.
Here each window is queued by when it ends, and every count first removes
at most 1,000 ended windows from the front of the queues: bounded work per count
however many clients there are, also after an idle spell in which all of
them ended.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from limits import RateLimitItem
from limits.util import WindowStats

# Ended windows one count removes at most: about 0.3 ms of work here. Each count starts at most one window, so
# the backlog shrinks, and after an idle spell 100 counts release the memory of 100,000 ended windows.
REMOVALS_PER_COUNT = 1000


class _Window:
    """One key's count in its current window, and when that window ends on the monotonic clock."""

    __slots__ = ("count", "ends_at")

    def __init__(self, ends_at: float) -> None:
        self.ends_at = ends_at
        self.count = 0


class MemoryWindows:
    """Counts rate-limit windows in memory, with the methods of `limits`' FixedWindowRateLimiter that intake uses.

    A window starts with its key's first count and lasts the limit's whole period, as in `limits`' fixed
    windows stored in memory.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # Under gevent this is gevent's lock. No count waits for anything while it holds the lock.
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        # Windows of the same length end in the order they started, so one queue per length stays sorted.
        self._ending: dict[float, deque[tuple[float, str]]] = {}

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Count `cost` against `item` for these identifiers and return False when the window now exceeds the limit."""
        key = item.key_for(*identifiers)
        with self._lock:
            # Read under the lock, so that windows join their queue in the order of their ends.
            now = self._clock()
            self._remove_ended(now)
            window = self._current(key, now)
            if window is None:
                window = self._start(key, float(item.get_expiry()), now)
            window.count += cost
            return window.count <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """Return when the current window ends, as Unix seconds, and how many counts it has left."""
        with self._lock:
            now = self._clock()
            self._remove_ended(now)
            window = self._current(item.key_for(*identifiers), now)
        if window is None:
            return WindowStats(time.time(), item.amount)
        return WindowStats(time.time() + window.ends_at - now, max(0, item.amount - window.count))

    def _current(self, key: str, now: float) -> _Window | None:
        """Return the key's window unless it has ended; an ended one may still wait for removal."""
        window = self._windows.get(key)
        if window is None or window.ends_at <= now:
            return None
        return window

    def _start(self, key: str, length: float, now: float) -> _Window:
        window = self._windows[key] = _Window(now + length)
        self._ending.setdefault(length, deque()).append((window.ends_at, key))
        return window

    def _remove_ended(self, now: float) -> None:
        removals = REMOVALS_PER_COUNT
        for queue in self._ending.values():
            while removals and queue and queue[0][0] <= now:
                ends_at, key = queue.popleft()
                removals -= 1
                # The key may have started a new window since this one ended; that one stays.
                window = self._windows.get(key)
                if window is not None and window.ends_at == ends_at:
                    del self._windows[key]
