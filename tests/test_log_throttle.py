"""The log throttle: one line per key and interval, carrying how many occurrences it stands for."""

from __future__ import annotations

from app.log_throttle import LogThrottle


def test_first_occurrence_due_then_counted():
    now = [0.0]
    throttle = LogThrottle(60, clock=lambda: now[0])

    reported = []
    for seconds in (0.0, 1.0, 30.0, 59.9, 60.0, 61.0, 125.0):
        now[0] = seconds
        reported.append(throttle.due())

    assert reported == [1, 0, 0, 0, 4, 0, 2]


def test_keys_throttled_apart():
    now = [0.0]
    throttle = LogThrottle(60, clock=lambda: now[0])

    assert throttle.due(("ip", "landing")) == 1
    assert throttle.due(("source", "landing")) == 1
    assert throttle.due(("ip", "landing")) == 0
