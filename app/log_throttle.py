"""A throttle for log lines that can repeat thousands of times a second under load or attack."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class LogThrottle:
    """Lets one log line per key through every `seconds`, reporting how many occurrences it stands for."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[Hashable, int] = {}
        self._last: dict[Hashable, float] = {}

    def due(self, key: Hashable = None) -> int:
        """Count one occurrence of `key`; return how many to report if a line is due now, else 0."""
        now = self._clock()
        with self._lock:
            count = self._counts.get(key, 0) + 1
            last = self._last.get(key)
            if last is not None and now - last < self.seconds:
                self._counts[key] = count
                return 0
            self._counts[key], self._last[key] = 0, now
            return count
